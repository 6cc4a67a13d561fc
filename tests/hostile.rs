//! The hostile-input suite: projects, audio and file-system states that
//! once lost a user's files or crashed bounce. Each test reproduces its
//! report; the suite grows with every new one.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

fn small_project() -> TestProject {
    let project = TestProject::new();
    project
        .wav("stems/a.wav", 48000, 24, &sine(48000, 2, 220.0, 0.4, 1.0))
        .wav("stems/b.wav", 48000, 24, &sine(48000, 2, 330.0, 0.4, 1.0));
    project.write("bounce.kdl", &small_kdl("", "-18", "Two"));
    project
}

/// Two tracks, two WAV deliverables; `release_extra` goes in the release.
fn small_kdl(release_extra: &str, loudness: &str, second_title: &str) -> String {
    format!(
        r#"release "Hostile" {{
    version "1.0.0"
    {release_extra}
}}
master "m" {{
    loudness {loudness}
}}
track 1 "One" {{
    stem "a" "stems/a.wav"
}}
track 2 "{second_title}" {{
    stem "b" "stems/b.wav"
}}
deliverable "hi" {{
    master "m"
    format "wav" bits=24
}}
deliverable "lo" {{
    master "m"
    format "wav" bits=16
}}
"#
    )
}

/// Standard error with miette's line wrapping undone, so a message can be
/// matched whatever the width it was wrapped at.
fn stderr(output: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr).replace(['│', '\n'], " ");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every file under `dir` with the hash of its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                let bytes = blake3::hash(&fs::read(&path).unwrap_or_default())
                    .to_hex()
                    .to_string();
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((name, bytes));
            }
        }
    }
    out.sort();
    out
}

// --- 1. `clean` removes only bounce's own cache ---------------------------

#[test]
fn clean_refuses_a_cache_dir_that_is_not_a_bounce_cache() {
    let project = small_project();
    let before = snapshot(&project.path(""));
    for dir in ["stems", "."] {
        let output = project.run(&["clean", "--cache-dir", dir]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("is not a bounce cache"),
            "{}",
            stderr(&output)
        );
    }
    let output = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .arg("clean")
        .current_dir(project.path(""))
        .env("BOUNCE_CACHE", project.path("stems"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        snapshot(&project.path("")),
        before,
        "clean touched the user's files"
    );
    // Nor does a build turn someone's folder into a cache.
    let log = project.build(&["--cache-dir", "stems"]);
    assert_eq!(log.output.status.code(), Some(1));
    assert_eq!(snapshot(&project.path("")), before);
}

#[test]
fn clean_removes_the_cache_but_not_what_the_user_put_in_it() {
    let project = small_project();
    project.build_ok(&[]);
    project.write(".bounce/notes.txt", "mine");
    let output = project.run(&["clean"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!project.path(".bounce/blobs").exists());
    assert_eq!(
        fs::read_to_string(project.path(".bounce/notes.txt")).unwrap(),
        "mine"
    );
    assert!(stderr(&output).contains("kept"), "{}", stderr(&output));
}

// --- 2. `clean --outputs` removes only versions bounce wrote ----------------

#[test]
fn clean_outputs_keeps_the_users_files_and_released_versions() {
    let project = small_project();
    project.build_ok(&[]);
    project.write("out/NOTES.txt", "keep me");
    project.write("out/old-mixes/mix1.wav", "old");
    project.write("out/1.0.0/hi/cover-notes.txt", "mine too");
    let output = project.run(&["clean", "--outputs"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        fs::read_to_string(project.path("out/NOTES.txt")).unwrap(),
        "keep me"
    );
    assert!(project.path("out/old-mixes/mix1.wav").is_file());
    assert!(project.path("out/1.0.0/hi/cover-notes.txt").is_file());
    assert!(!project.path("out/1.0.0/manifest.json").exists());
    assert!(
        !project.path("out/1.0.0/lo").exists(),
        "an emptied folder stays"
    );
    assert!(!project.path(".bounce").exists());
}

#[test]
fn clean_outputs_refuses_an_output_folder_holding_the_project() {
    for output in [".", "stems"] {
        let project = small_project();
        project.write(
            "bounce.kdl",
            &small_kdl(&format!("output \"{output}\""), "-18", "Two"),
        );
        project.build_ok(&[]);
        let before = snapshot(&project.path(""));
        let result = project.run(&["clean", "--outputs"]);
        assert_eq!(
            result.status.code(),
            Some(1),
            "output {output}: {}",
            stderr(&result)
        );
        assert!(
            stderr(&result).contains("which the project reads"),
            "{}",
            stderr(&result)
        );
        assert_eq!(snapshot(&project.path("")), before, "output {output}");
    }
}

#[test]
fn clean_outputs_does_not_follow_a_linked_output_folder() {
    let project = small_project();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::create_dir(elsewhere.path().join("1.0.0")).unwrap();
    fs::write(elsewhere.path().join("1.0.0/manifest.json"), "{}").unwrap();
    fs::write(elsewhere.path().join("precious.wav"), "x").unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), project.path("out")).unwrap();
    let result = project.run(&["clean", "--outputs"]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("symbolic link"),
        "{}",
        stderr(&result)
    );
    assert!(elsewhere.path().join("precious.wav").is_file());
    assert!(elsewhere.path().join("1.0.0/manifest.json").is_file());
}

// --- 3. a failed build publishes nothing ------------------------------------

#[test]
fn a_name_too_long_is_caught_before_anything_renders_or_changes() {
    let project = small_project();
    project.build_ok(&[]);
    let before = snapshot(&project.path("out"));
    let long = "x".repeat(260);
    project.write("bounce.kdl", &small_kdl("", "-14", &long));
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("269 bytes"), "{}", stderr(&output));
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(2));
    assert!(log.built().is_empty());
    assert_eq!(snapshot(&project.path("out")), before);
}

/// Mounts a tmpfs of `size` at `dir`; false (and SKIPPED) where mounting
/// is not allowed, a failure under CI.
fn mount_tmpfs(dir: &Path, options: &str) -> bool {
    fs::create_dir_all(dir).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to mount a tmpfs"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here");
    }
    ok
}

struct Mount<'a>(&'a Path);

impl Drop for Mount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

#[test]
fn a_full_disk_mid_publish_leaves_the_previous_version_whole() {
    let project = small_project();
    let out = project.path("out");
    // One version (4 files of 1 s, ~850 kB) fits; two do not.
    if !mount_tmpfs(&out, "size=1200k") {
        return;
    }
    let _mount = Mount(&out);
    project.build_ok(&[]);
    let before = snapshot(&out);
    assert_eq!(before.len(), 6, "four files, the manifest and the lock");
    project.write("bounce.kdl", &small_kdl("", "-14", "Two"));
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1), "the disk was full");
    assert!(
        stderr(&log.output).contains("No space left"),
        "{}",
        stderr(&log.output)
    );
    assert_eq!(snapshot(&out), before, "the old version must stay whole");
}

#[test]
fn a_read_only_folder_mid_publish_rolls_every_file_back() {
    let project = small_project();
    project.build_ok(&[]);
    let before = snapshot(&project.path("out"));
    // The second deliverable's folder refuses writes: "hi" renames first.
    let lo = project.path("out/1.0.0/lo");
    fs::remove_dir_all(&lo).unwrap();
    if !mount_tmpfs(&lo, "ro,size=64k") {
        return;
    }
    let _mount = Mount(&lo);
    let mut before = before;
    before.retain(|(name, _)| !name.starts_with("1.0.0/lo/"));
    project.write("bounce.kdl", &small_kdl("", "-14", "Two"));
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1), "{}", stderr(&log.output));
    assert_eq!(snapshot(&project.path("out")), before);
    assert!(!project.path("out/1.0.0/.bounce-stage").exists());
}

#[test]
fn a_file_where_a_folder_must_go_changes_nothing() {
    let project = small_project();
    project.build_ok(&[]);
    fs::remove_dir_all(project.path("out/1.0.0/lo")).unwrap();
    project.write("out/1.0.0/lo", "a file in the way");
    let before = snapshot(&project.path("out"));
    project.write("bounce.kdl", &small_kdl("", "-14", "Two"));
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1), "{}", stderr(&log.output));
    assert_eq!(snapshot(&project.path("out")), before);
}

#[test]
fn a_version_folder_holds_exactly_what_its_manifest_lists() {
    let project = small_project();
    project.build_ok(&[]);
    project.write("out/1.0.0/hi/mine.txt", "the user's");
    project.write("bounce.kdl", &small_kdl("", "-18", "Renamed"));
    let log = project.build_ok(&[]);
    let removed = log.summary["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 2, "{removed:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(project.path("out/1.0.0/manifest.json")).unwrap())
            .unwrap();
    let mut listed: Vec<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    listed.push("manifest.json".into());
    listed.push("hi/mine.txt".into());
    listed.sort();
    let present: Vec<String> = snapshot(&project.path("out/1.0.0"))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(present, listed);
    assert!(present.iter().any(|p| p.contains("Renamed")));
}

// --- 4. reserved names -------------------------------------------------------

#[test]
fn reserved_names_are_errors_at_check() {
    for path in [
        "manifest.json",
        "release.lock",
        "Manifest.JSON",
        ".bounce-stage/x.wav",
    ] {
        let project = small_project();
        let text = small_kdl("", "-18", "Two").replace(
            "format \"wav\" bits=16",
            &format!("format \"wav\" bits=16\n    path \"{path}\"\n    tracks 1"),
        );
        project.write("bounce.kdl", &text);
        let output = project.run(&["check"]);
        assert_eq!(output.status.code(), Some(2), "{path}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("bounce's own"),
            "{path}: {}",
            stderr(&output)
        );
    }
}

// --- 5. no writes through links or outside the project -------------------------

#[test]
fn a_linked_folder_in_the_output_tree_is_not_followed() {
    for link in ["out", "out/1.0.0", "out/1.0.0/hi"] {
        let project = small_project();
        let elsewhere = tempfile::tempdir().unwrap();
        let path = project.path(link);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), &path).unwrap();
        let log = project.build(&[]);
        assert_eq!(
            log.output.status.code(),
            Some(1),
            "{link}: {}",
            stderr(&log.output)
        );
        assert!(
            stderr(&log.output).contains("symbolic link"),
            "{}",
            stderr(&log.output)
        );
        assert_eq!(
            fs::read_dir(elsewhere.path()).unwrap().count(),
            0,
            "{link}: wrote through the link"
        );
    }
}

#[test]
fn an_output_outside_the_project_needs_an_opt_in() {
    let project = small_project();
    for output in ["/", "..", "../elsewhere", "/tmp/bounce-hostile-out"] {
        project.write(
            "bounce.kdl",
            &small_kdl(&format!("output \"{output}\""), "-18", "Two"),
        );
        let result = project.run(&["check"]);
        assert_eq!(
            result.status.code(),
            Some(2),
            "{output}: {}",
            stderr(&result)
        );
        assert!(
            stderr(&result).contains("output folder"),
            "{}",
            stderr(&result)
        );
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let output = elsewhere.path().join("masters");
    project.write(
        "bounce.kdl",
        &small_kdl(
            &format!("output \"{}\" outside=#true", output.display()),
            "-18",
            "Two",
        ),
    );
    project.build_ok(&[]);
    assert!(output.join("1.0.0/manifest.json").is_file());
    project.write(
        "bounce.kdl",
        &small_kdl("output \"/\" outside=#true", "-18", "Two"),
    );
    assert_eq!(project.run(&["check"]).status.code(), Some(2));
}

// --- 23. names safe on every common file system --------------------------------

#[test]
fn names_differing_only_in_case_clash() {
    let project = small_project();
    let text = small_kdl("", "-18", "ONE");
    let text = text.replace(
        "format \"wav\" bits=24",
        "format \"wav\" bits=24\n    path \"{deliverable}/{title}.{ext}\"",
    );
    let text = text.replace("track 1 \"One\"", "track 1 \"one\"");
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("both write"),
        "{}",
        stderr(&output)
    );
}

// --- 10. a reader that goes away ---------------------------------------------

/// Runs bounce with its output into a pipe that is closed after the first
/// line; bounce must end quietly with status 0.
fn run_into_closed_pipe(project: &TestProject, args: &[&str]) -> std::process::Output {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .args(args)
        .current_dir(project.path(""))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "no first line");
    // The reader is dropped here: every later write meets a closed pipe.
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let project = small_project();
    let output = run_into_closed_pipe(&project, &["build", "--message-format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    let files: Vec<String> = (0..400).map(|_| "stems/a.wav".to_string()).collect();
    let mut args = vec!["analyze"];
    args.extend(files.iter().map(String::as_str));
    let output = run_into_closed_pipe(&project, &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

// --- 18. targets that name no track --------------------------------------------

#[test]
fn a_target_whose_track_is_not_a_number_is_a_usage_error() {
    let project = small_project();
    for target in ["hi:abc", "hi:", "hi:1:2", "hi:-1", "hi:0"] {
        for command in ["build", "explain", "graph"] {
            let output = project.run(&[command, target]);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{command} {target}: {}",
                stderr(&output)
            );
            assert!(
                stderr(&output).contains("track number"),
                "{}",
                stderr(&output)
            );
        }
    }
    assert!(!project.path("out").exists(), "nothing was built");
}

// --- 12. absurd worker counts ---------------------------------------------------

#[test]
fn a_huge_job_count_is_capped() {
    let project = small_project();
    let started = std::time::Instant::now();
    project.build_ok(&["-j", "100000"]);
    project.build_ok(&["-j", "100000"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "two small builds at -j 100000 took {:?}",
        started.elapsed()
    );
}

// --- 8. headers no audio can have ---------------------------------------------

/// A WAV whose fmt chunk gives `rate` Hz and `channels` channels.
fn wav_with_header(path: &Path, rate: u32, channels: u16) {
    let data = vec![0u8; 400];
    let mut fmt = Vec::new();
    for field in [1u16.to_le_bytes().to_vec(), channels.to_le_bytes().to_vec()] {
        fmt.extend(field);
    }
    fmt.extend(rate.to_le_bytes());
    fmt.extend((rate * 4).to_le_bytes());
    fmt.extend(4u16.to_le_bytes());
    fmt.extend(16u16.to_le_bytes());
    let mut bytes = b"RIFF".to_vec();
    bytes.extend(((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    bytes.extend(b"WAVEfmt ");
    bytes.extend((fmt.len() as u32).to_le_bytes());
    bytes.extend(&fmt);
    bytes.extend(b"data");
    bytes.extend((data.len() as u32).to_le_bytes());
    bytes.extend(&data);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

#[test]
fn a_header_of_zero_hertz_or_channels_is_an_error_not_a_panic() {
    for (rate, channels, why) in [(0, 2, "0 Hz"), (48000, 0, "0 channels")] {
        let project = small_project();
        wav_with_header(&project.path("stems/b.wav"), rate, channels);
        for args in [
            vec!["check"],
            vec!["build"],
            vec!["analyze", "stems/b.wav"],
            vec!["init", "stems"],
        ] {
            if args[0] == "init" {
                // init writes beside the stems and never over a project.
                fs::remove_file(project.path("bounce.kdl")).unwrap();
            }
            let output = project.run(&args);
            let code = output.status.code();
            assert!(
                matches!(code, Some(1) | Some(2)),
                "{args:?}: {code:?} {}",
                stderr(&output)
            );
            assert!(
                stderr(&output).contains(why),
                "{args:?}: {}",
                stderr(&output)
            );
            assert!(
                stderr(&output).contains("b.wav"),
                "{args:?}: {}",
                stderr(&output)
            );
        }
    }
}

// --- 19. a backslash in a file name -------------------------------------------

#[test]
fn init_keeps_a_backslash_in_a_file_name() {
    let project = TestProject::new();
    project.wav(
        "songs/back\\slash.wav",
        48000,
        16,
        &sine(48000, 2, 220.0, 0.3, 1.0),
    );
    let output = project.run(&["init", "songs"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = fs::read_to_string(project.path("bounce.kdl")).unwrap();
    assert!(text.contains(r#""songs/back\\slash.wav""#), "{text}");
    let check = project.run(&["check"]);
    assert!(check.status.success(), "{}", stderr(&check));
}

// --- 11 and 17. durations past a day, lengths of nothing -----------------------

#[test]
fn durations_over_a_day_and_empty_lengths_are_errors_at_check() {
    let cases = [
        (
            "stem \"b\" \"stems/b.wav\"",
            "stem \"b\" \"stems/b.wav\" offset=1e12",
        ),
        ("stem \"b\" \"stems/b.wav\"", "tone \"b\" length=1e12"),
        (
            "stem \"b\" \"stems/b.wav\"",
            "stem \"b\" \"stems/b.wav\"\n    length 1e12",
        ),
        (
            "stem \"b\" \"stems/b.wav\"",
            "stem \"b\" \"stems/b.wav\"\n    length 0",
        ),
        ("stem \"b\" \"stems/b.wav\"", "tone \"b\" length=0"),
        (
            "stem \"b\" \"stems/b.wav\"",
            "stem \"b\" \"stems/b.wav\"\n    fade-out 90000",
        ),
    ];
    for (from, to) in cases {
        let project = small_project();
        project.write("bounce.kdl", &small_kdl("", "-18", "Two").replace(from, to));
        let output = project.run(&["check"]);
        assert_eq!(output.status.code(), Some(2), "{to}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("out of range"),
            "{to}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_track_whose_stems_are_all_muted_is_an_error() {
    let project = small_project();
    let text = small_kdl("", "-18", "Two").replace(
        "stem \"b\" \"stems/b.wav\"",
        "stem \"b\" \"stems/b.wav\" mute=#true",
    );
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("muted"), "{}", stderr(&output));
}

// --- 6, 7, 9, 14, 20. files that are not what they seem ------------------------

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// Runs bounce with a deadline: a command that blocks (on a FIFO) fails the
/// test instead of hanging it.
fn run_briefly(project: &TestProject, args: &[&str]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .args(args)
        .current_dir(project.path(""))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("bounce {args:?} blocked");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn include_reads_only_kdl_files_inside_the_project() {
    let project = small_project();
    let secret = tempfile::tempdir().unwrap();
    fs::write(secret.path().join("key.kdl"), "TOKEN=hunter2-secret\n").unwrap();
    fs::write(
        project.path("id_rsa"),
        "-----BEGIN KEY----- hunter2-secret\n",
    )
    .unwrap();
    mkfifo(&project.path("fifo.kdl"));
    let outside = secret.path().join("key.kdl");
    for (include, why) in [
        ("/proc/self/environ", "not a .kdl file"),
        ("id_rsa", "not a .kdl file"),
        (outside.to_str().unwrap(), "outside the project"),
        ("fifo.kdl", "FIFO"),
    ] {
        project.write(
            "bounce.kdl",
            &format!("{}include \"{include}\"\n", small_kdl("", "-18", "Two")),
        );
        let output = run_briefly(&project, &["check"]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{include}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(why),
            "{include}: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains("hunter2"),
            "{include} leaked: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_project_file_that_is_a_device_a_fifo_or_huge_is_refused() {
    let project = small_project();
    mkfifo(&project.path("pipe.kdl"));
    let huge = format!(
        "// {}\n{}",
        "x".repeat(5 << 20),
        small_kdl("", "-18", "Two")
    );
    project.write("huge.kdl", &huge);
    for (file, why) in [
        ("/dev/zero", "device"),
        ("pipe.kdl", "FIFO"),
        ("huge.kdl", "larger than 4 MB"),
        ("stems", "folder"),
    ] {
        let output = run_briefly(&project, &["check", "-f", file]);
        assert_eq!(output.status.code(), Some(2), "{file}: {}", stderr(&output));
        assert!(stderr(&output).contains(why), "{file}: {}", stderr(&output));
    }
}

#[test]
fn nodes_nested_ten_thousand_deep_are_an_error_at_their_line() {
    let project = small_project();
    let mut text = small_kdl("", "-18", "Two");
    text.push_str("deep ");
    text.push_str(&"{ n ".repeat(10_000));
    text.push_str(&"}".repeat(10_000));
    project.write("bounce.kdl", &text);
    let output = run_briefly(&project, &["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("nested 65 deep"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("bounce.kdl:22:262"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_stem_or_cover_that_is_not_a_file_says_what_it_is() {
    let project = small_project();
    fs::create_dir(project.path("stems/folder.wav")).unwrap();
    mkfifo(&project.path("stems/fifo.wav"));
    std::os::unix::fs::symlink(
        project.path("stems/gone.wav"),
        project.path("stems/dangling.wav"),
    )
    .unwrap();
    std::os::unix::fs::symlink(project.path("stems/l2.wav"), project.path("stems/l1.wav")).unwrap();
    std::os::unix::fs::symlink(project.path("stems/l1.wav"), project.path("stems/l2.wav")).unwrap();
    for (stem, what) in [
        ("stems/folder.wav", "a folder"),
        ("stems/fifo.wav", "FIFO"),
        ("/dev/zero", "device"),
        ("/dev/null", "device"),
        ("stems/dangling.wav", "link to nothing"),
        ("stems/l1.wav", "loop of symbolic links"),
    ] {
        let text = small_kdl("", "-18", "Two").replace("stems/b.wav", stem);
        project.write("bounce.kdl", &text);
        for command in ["check", "build"] {
            let output = run_briefly(&project, &[command]);
            assert_eq!(output.status.code(), Some(2), "{stem}: {}", stderr(&output));
            assert!(
                stderr(&output).contains(what),
                "{command} {stem}: {}",
                stderr(&output)
            );
        }
    }
    project.write("bounce.kdl", &small_kdl("cover \"stems\"", "-18", "Two"));
    let output = run_briefly(&project, &["check"]);
    assert!(stderr(&output).contains("a folder"), "{}", stderr(&output));
    for (file, what) in [("stems", "a folder"), ("stems/fifo.wav", "FIFO")] {
        let output = run_briefly(&project, &["analyze", file]);
        assert_eq!(output.status.code(), Some(1), "{file}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(what),
            "analyze {file}: {}",
            stderr(&output)
        );
    }
}

// --- 15. samples that are not numbers -------------------------------------------

/// A 32-bit float stereo WAV of a quiet sine with `bad` at frame `at`.
fn float_wav_with(path: &Path, at: usize, bad: f32) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..48000 {
        let x = 0.1 * (i as f32 * 0.05).sin();
        writer.write_sample(if i == at { bad } else { x }).unwrap();
        writer.write_sample(x).unwrap();
    }
    writer.finalize().unwrap();
}

#[test]
fn non_finite_samples_are_an_error_naming_the_file_and_the_place() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let project = small_project();
        float_wav_with(&project.path("stems/b.wav"), 1234, bad);
        let log = project.build(&[]);
        assert_eq!(
            log.output.status.code(),
            Some(1),
            "{bad}: {}",
            stderr(&log.output)
        );
        let text = stderr(&log.output);
        assert!(
            text.contains("b.wav") && text.contains("sample frame 1234"),
            "{bad}: {text}"
        );
        assert!(
            !project.path("out").exists(),
            "{bad}: something was delivered"
        );
        let output = project.run(&["analyze", "stems/b.wav"]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("not a number"),
            "{}",
            stderr(&output)
        );
    }
}

// --- 13. a flood of errors ------------------------------------------------------

#[test]
fn a_flood_of_errors_shows_the_first_hundred_and_counts_the_rest() {
    let project = small_project();
    let mut text = small_kdl("", "-18", "Two");
    text.push_str(&"foo\n".repeat(100_000));
    project.write("bounce.kdl", &text);
    let output = run_briefly(&project, &["check"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert_eq!(
        text.matches("unknown node `foo`").count(),
        100,
        "shown in full"
    );
    assert!(
        text.contains("and 99900 more errors not shown"),
        "{}",
        &text[text.len() - 300..]
    );
    assert!(text.contains("100000 errors in the project"));
}

// --- 16. covers that are not whole pictures -----------------------------------

#[test]
fn a_broken_cover_is_an_error_at_check() {
    // SOI, APP0, SOF0 of 500×300, and no end-of-image marker.
    let cut_jpeg: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 1, 44, 1, 244, 3, 0, 0, 0,
    ];
    // A PNG whose IHDR claims 100000×100000 without fixing its checksum.
    let mut huge_png = vec![0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0, 0, 13];
    huge_png.extend(b"IHDR");
    huge_png.extend(100_000u32.to_be_bytes());
    huge_png.extend(100_000u32.to_be_bytes());
    huge_png.extend([8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89]);
    for (bytes, why) in [(cut_jpeg.to_vec(), "cut short"), (huge_png, "damaged PNG")] {
        let project = small_project();
        fs::write(project.path("cover.img"), &bytes).unwrap();
        project.write(
            "bounce.kdl",
            &small_kdl("cover \"cover.img\"", "-18", "Two"),
        );
        let output = project.run(&["check"]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(why), "{}", stderr(&output));
    }
}

#[test]
fn a_huge_template_width_is_an_error_not_a_panic() {
    let project = small_project();
    let text = small_kdl("", "-18", "Two").replace(
        "format \"wav\" bits=16",
        "format \"wav\" bits=16\n    path \"{track:070000}.{ext}\"",
    );
    project.write("bounce.kdl", &text);
    for command in ["check", "build"] {
        let output = project.run(&[command]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{command}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("at most 9 digits"),
            "{}",
            stderr(&output)
        );
    }
}

/// Each cause is said once: "No space left" once, not again as a cause.
#[test]
fn an_io_error_says_its_cause_once() {
    let project = small_project();
    let out = project.path("out");
    if !mount_tmpfs(&out, "size=300k") {
        return;
    }
    let _mount = Mount(&out);
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&log.output.stderr);
    assert_eq!(text.matches("No space left").count(), 1, "{text}");
}

// --- 11. a render that cannot fit ------------------------------------------------

#[test]
fn a_step_that_cannot_fit_fails_before_it_writes() {
    let project = TestProject::new();
    project.write(
        "bounce.kdl",
        r#"release "Long" { version "1"; }
master "m" { }
track 1 "Hour" { tone "t" freq=440 length=3600; }
deliverable "wav" { master "m"; format "wav" bits=16; }
"#,
    );
    let cache = project.path("small-cache");
    if !mount_tmpfs(&cache, "size=2m") {
        return;
    }
    let _mount = Mount(&cache);
    let log = project.build(&["--cache-dir", "small-cache"]);
    assert_eq!(log.output.status.code(), Some(1), "{}", stderr(&log.output));
    let text = stderr(&log.output);
    assert!(
        text.contains("needs about") && text.contains("MB are free"),
        "{text}"
    );
    let used: u64 = fs::read_dir(cache.join("tmp")).unwrap().count() as u64
        + fs::read_dir(cache.join("scratch")).unwrap().count() as u64;
    assert_eq!(used, 0, "a half-written file was left");
}

// --- 20. a FLAC with a corrupt frame -------------------------------------------

#[test]
fn a_flac_with_a_corrupt_frame_is_named_damaged_at_check() {
    let project = small_project();
    project.write(
        "bounce.kdl",
        &small_kdl("", "-18", "Two").replace("format \"wav\" bits=16", "format \"flac\" bits=16"),
    );
    project.build_ok(&[]);
    let mut flac = fs::read(project.path("out/1.0.0/lo/01 - One.flac")).unwrap();
    let middle = flac.len() / 2;
    for byte in &mut flac[middle..middle + 200] {
        *byte ^= 0x5A;
    }
    fs::write(project.path("stems/b.flac"), &flac).unwrap();
    project.write(
        "bounce.kdl",
        &small_kdl("", "-18", "Two").replace("stems/b.wav", "stems/b.flac"),
    );
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("b.flac: damaged or cut short"), "{text}");
    assert!(!text.contains("truncated"), "{text}");
}

// --- 22. a KDL 1 keyword in a KDL 2 file ----------------------------------------

#[test]
fn a_kdl_1_keyword_among_kdl_2_points_at_itself_and_says_how_2_writes_it() {
    let project = small_project();
    let text = small_kdl("", "-18", "Two").replace(
        "stem \"b\" \"stems/b.wav\"",
        "stem \"b\" \"stems/b.wav\" mute=true\n    tone \"t\" length=1 mute=#false",
    );
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("bounce.kdl:12:33"), "{text}");
    assert!(text.contains("KDL 2 writes `#true`"), "{text}");
}

#[test]
fn band_counts_and_versions_say_what_is_wrong() {
    let project = small_project();
    let text = small_kdl("", "-18", "Two").replace(
        "loudness -18",
        "loudness -18\n    multiband 200 2000 {\n        band ratio=2\n        band ratio=2\n    }",
    );
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("2 crossovers make 3 bands, but 2 `band`s are given"),
        "{}",
        stderr(&output)
    );
    project.write(
        "bounce.kdl",
        &small_kdl("", "-18", "Two").replace("version \"1.0.0\"", "version \"1.0\\u{7}\""),
    );
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no control characters"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("slashes"), "{}", stderr(&output));
}

#[test]
fn clean_outputs_refuses_a_parent_output_folder() {
    let parent = tempfile::tempdir().unwrap();
    let project = small_project();
    // The project inside a folder whose parent is its output.
    let inner = parent.path().join("project");
    fs::create_dir(&inner).unwrap();
    for entry in ["bounce.kdl", "stems"] {
        fs::rename(project.path(entry), inner.join(entry)).unwrap();
    }
    fs::write(
        inner.join("bounce.kdl"),
        small_kdl("output \"..\" outside=#true", "-18", "Two"),
    )
    .unwrap();
    fs::write(parent.path().join("precious.txt"), "mine").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bounce"))
            .args(args)
            .current_dir(&inner)
            .output()
            .unwrap()
    };
    assert!(run(&["build"]).status.success());
    let output = run(&["clean", "--outputs"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("which the project reads"),
        "{}",
        stderr(&output)
    );
    assert!(parent.path().join("precious.txt").is_file());
    assert!(inner.join("bounce.kdl").is_file());
}

// === The second hostile pass (issue: nine ways a build, publish or clean
// still destroyed a user's file) ==============================================

/// `small_kdl` with `extra` nodes added to the deliverable "hi".
fn kdl_with_deliverable(extra: &str) -> String {
    small_kdl("", "-18", "Two").replace(
        "deliverable \"hi\" {\n    master \"m\"",
        &format!("deliverable \"hi\" {{\n    master \"m\"\n    {extra}"),
    )
}

fn bytes_of(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// --- 2.1 sources and outputs never overlap ----------------------------------

#[test]
fn a_source_inside_the_version_folder_is_refused_before_anything_is_written() {
    // A stem that is a deliverable's own output.
    let project = small_project();
    project.build_ok(&[]);
    let delivered = project.path("out/1.0.0/hi/01 - One.wav");
    let before = bytes_of(&delivered);
    let text = small_kdl("", "-18", "Two").replace("stems/a.wav", "out/1.0.0/hi/01 - One.wav");
    project.write("bounce.kdl", &text);
    for args in [vec!["check"], vec!["build"]] {
        let output = project.run(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("is inside the version folder"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert_eq!(bytes_of(&delivered), before);

    // With no opt-in: the version folder is the stems folder.
    let project = small_project();
    let stem = bytes_of(&project.path("stems/b.wav"));
    project.write(
        "bounce.kdl",
        &small_kdl("output \".\"", "-18", "Two")
            .replace("version \"1.0.0\"", "version \"stems\"")
            .replace(
                "format \"wav\" bits=24",
                "format \"wav\" bits=24\n    path \"b.{ext}\"\n    tracks 1",
            ),
    );
    let output = project.run(&["build"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(bytes_of(&project.path("stems/b.wav")), stem);
}

#[test]
fn an_output_and_version_that_reach_the_project_file_are_refused() {
    let parent = tempfile::tempdir().unwrap();
    let inner = parent.path().join("album");
    fs::create_dir(&inner).unwrap();
    let project = small_project();
    fs::rename(project.path("stems"), inner.join("stems")).unwrap();
    let text = small_kdl("output \"..\" outside=#true", "-18", "Two")
        .replace("version \"1.0.0\"", "version \"album\"")
        .replace(
            "format \"wav\" bits=24",
            "format \"wav\" bits=24\n    path \"bounce.kdl\"\n    tracks 1",
        );
    fs::write(inner.join("bounce.kdl"), &text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .arg("build")
        .current_dir(&inner)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("bounce.kdl"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read_to_string(inner.join("bounce.kdl")).unwrap(), text);
}

// --- 2.2 publishing never moves a user's folder or file ----------------------

#[test]
fn publishing_refuses_a_users_folder_or_file_where_a_file_goes() {
    let project = small_project();
    project.build_ok(&[]);
    project.write("out/1.0.0/liner-notes/notes.txt", "the user's notes");
    project.write(
        "bounce.kdl",
        &kdl_with_deliverable("path \"liner-notes\"\n    tracks 1"),
    );
    let before = snapshot(&project.path("out"));
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1), "{}", stderr(&log.output));
    assert!(
        stderr(&log.output).contains("a folder"),
        "{}",
        stderr(&log.output)
    );
    assert_eq!(snapshot(&project.path("out")), before);

    // A file of the user's (or one they edited) at a deliverable's path.
    let project = small_project();
    project.build_ok(&[]);
    project.write("out/1.0.0/hi/01 - One.wav", "edited by hand");
    project.write("bounce.kdl", &small_kdl("", "-14", "Two"));
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1), "{}", stderr(&log.output));
    assert!(
        stderr(&log.output).contains("not the ones bounce wrote"),
        "{}",
        stderr(&log.output)
    );
    assert_eq!(
        fs::read_to_string(project.path("out/1.0.0/hi/01 - One.wav")).unwrap(),
        "edited by hand"
    );
}

// --- 2.3 clean checks what it removes -----------------------------------------

#[test]
fn clean_outputs_removes_only_the_bytes_bounce_recorded_inside_the_folder() {
    let project = small_project();
    project.build_ok(&[]);
    project.write("out/1.0.0/hi/01 - One.wav", "replaced by the user");
    let output = project.run(&["clean", "--outputs"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        fs::read_to_string(project.path("out/1.0.0/hi/01 - One.wav")).unwrap(),
        "replaced by the user"
    );
    assert!(
        stderr(&output).contains("its bytes changed"),
        "{}",
        stderr(&output)
    );
    assert!(!project.path("out/1.0.0/lo/01 - One.wav").exists());

    // Manifest entries outside the folder: refused, nothing removed.
    let victim = tempfile::tempdir().unwrap();
    let absolute = victim.path().join("victim.txt");
    fs::write(&absolute, "mine").unwrap();
    for hostile in ["../../stems/a.wav", absolute.to_str().unwrap()] {
        let project = small_project();
        project.build_ok(&[]);
        let path = project.path("out/1.0.0/manifest.json");
        let mut manifest: serde_json::Value = serde_json::from_slice(&bytes_of(&path)).unwrap();
        let target = if hostile.starts_with('/') {
            absolute.clone()
        } else {
            project.path("stems/a.wav")
        };
        manifest["files"][0]["path"] = hostile.into();
        manifest["files"][0]["blake3"] =
            blake3::hash(&bytes_of(&target)).to_hex().to_string().into();
        fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        let before = snapshot(&project.path("out"));
        let output = project.run(&["clean", "--outputs"]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{hostile}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("is refused"),
            "{}",
            stderr(&output)
        );
        assert!(target.is_file(), "{hostile}: clean removed a file outside");
        assert_eq!(snapshot(&project.path("out")), before);
    }
}

// --- 2.4 a journal is checked before it is replayed ---------------------------

#[test]
fn a_journal_naming_paths_outside_the_folder_is_refused() {
    let victim = tempfile::tempdir().unwrap();
    let absolute = victim.path().join("victim.txt");
    fs::write(&absolute, "mine").unwrap();
    for dest in ["../../bounce.kdl", absolute.to_str().unwrap()] {
        let project = small_project();
        project.build_ok(&[]);
        let kdl = bytes_of(&project.path("bounce.kdl"));
        project.write(
            "out/1.0.0/.bounce-stage/journal.json",
            &serde_json::json!([{ "dest": dest, "staged": false }]).to_string(),
        );
        project.write("out/1.0.0/.bounce-stage/old-0", "what would be renamed in");
        let log = project.build(&[]);
        assert_eq!(
            log.output.status.code(),
            Some(1),
            "{dest}: {}",
            stderr(&log.output)
        );
        assert!(
            stderr(&log.output).contains("journal"),
            "{}",
            stderr(&log.output)
        );
        assert_eq!(bytes_of(&project.path("bounce.kdl")), kdl);
        assert_eq!(fs::read_to_string(&absolute).unwrap(), "mine");
    }
}

// --- 2.5 the report's folder is bounce's -------------------------------------

#[test]
fn a_deliverable_in_the_report_folder_is_an_error_at_check() {
    let project = small_project();
    project.write(
        "bounce.kdl",
        &kdl_with_deliverable("path \"report/index.html\"\n    tracks 1"),
    );
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("release report folder"),
        "{}",
        stderr(&output)
    );
}

// --- 2.6 a folder of the user's is not a cache --------------------------------

#[test]
fn a_folder_holding_folders_of_the_caches_names_is_not_a_cache() {
    let project = small_project();
    project.write("mine/tmp/keep.txt", "keep");
    project.write("mine/blobs/photo.jpg", "a photo");
    project.write("mine/revisions/draft.txt", "a draft");
    let before = snapshot(&project.path("mine"));
    let log = project.build(&["--cache-dir", "mine"]);
    assert_eq!(log.output.status.code(), Some(1), "{}", stderr(&log.output));
    assert!(
        stderr(&log.output).contains("is not a bounce cache"),
        "{}",
        stderr(&log.output)
    );
    let output = project.run(&["clean", "--cache-dir", "mine"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(snapshot(&project.path("mine")), before);
    // Empty folders of those names are a cache begun and stopped.
    fs::create_dir_all(project.path("fresh/tmp")).unwrap();
    project.build_ok(&["--cache-dir", "fresh"]);
}

// --- 2.7 the report goes through no link --------------------------------------

#[test]
fn the_report_is_not_written_through_a_linked_folder() {
    let project = small_project();
    project.build_ok(&[]);
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), project.path("out/1.0.0/report")).unwrap();
    let output = project.run(&["report"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("symbolic link"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

// --- 2.8 the temp sweep follows no link ---------------------------------------

#[test]
fn the_temp_sweep_follows_no_link_and_ends() {
    let project = small_project();
    project.build_ok(&[]);
    let elsewhere = tempfile::tempdir().unwrap();
    let theirs = elsewhere.path().join(".notes.txt.4999999.1.tmp");
    fs::write(&theirs, "someone else's").unwrap();
    let version = project.path("out/1.0.0");
    std::os::unix::fs::symlink(elsewhere.path(), version.join("notes")).unwrap();
    std::os::unix::fs::symlink(".", version.join("x")).unwrap();
    std::os::unix::fs::symlink(".", version.join("y")).unwrap();
    project.write("bounce.kdl", &small_kdl("", "-17", "Two"));
    let output = run_briefly(&project, &["build"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(theirs.is_file(), "the sweep deleted a file through a link");
}

// --- 2.9 `--rev` writes into no linked folder ---------------------------------

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {}", stderr(&status));
}

#[test]
fn a_revision_with_a_linked_folder_gets_nothing_written_through_it() {
    if !tool_available("git", "--version") {
        return;
    }
    let project = small_project();
    let elsewhere = tempfile::tempdir().unwrap();
    for stem in ["a.wav", "b.wav"] {
        fs::copy(
            project.path(&format!("stems/{stem}")),
            elsewhere.path().join(stem),
        )
        .unwrap();
    }
    let real_stems = project.path("real-stems");
    fs::rename(project.path("stems"), &real_stems).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), project.path("stems")).unwrap();
    let dir = project.path("");
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "bounce.kdl", "stems"]);
    git(&dir, &["commit", "-q", "-m", "stems as a link"]);
    // Now the stems are a real folder, with a file git does not track.
    fs::remove_file(project.path("stems")).unwrap();
    fs::rename(&real_stems, project.path("stems")).unwrap();
    project.write("stems/take-2.txt", "untracked");
    let before = snapshot(elsewhere.path());
    let output = project.run(&["build", "--rev", "HEAD"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        snapshot(elsewhere.path()),
        before,
        "--rev wrote through the link"
    );
}

// --- 2.10 and 2.11 rates no audio has ------------------------------------------

/// An AIFF of silence whose COMM chunk gives the 80-bit rate `rate`.
fn aiff_with_rate(path: &Path, rate: [u8; 10], frames: u32) {
    let data = vec![0u8; frames as usize * 4];
    let mut comm = Vec::new();
    comm.extend(2u16.to_be_bytes());
    comm.extend(frames.to_be_bytes());
    comm.extend(16u16.to_be_bytes());
    comm.extend(rate);
    let mut ssnd = vec![0u8; 8];
    ssnd.extend(&data);
    let mut body = b"AIFF".to_vec();
    for (id, chunk) in [(b"COMM", &comm), (b"SSND", &ssnd)] {
        body.extend(id);
        body.extend((chunk.len() as u32).to_be_bytes());
        body.extend(chunk);
    }
    let mut bytes = b"FORM".to_vec();
    bytes.extend((body.len() as u32).to_be_bytes());
    bytes.extend(body);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// 80-bit extended floats: NaN, infinity, 1e30 (about 2^99.66) and 1 Hz.
const NAN_RATE: [u8; 10] = [0x7f, 0xff, 0xc0, 0, 0, 0, 0, 0, 0, 0];
const INFINITE_RATE: [u8; 10] = [0x7f, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0];
const HUGE_RATE: [u8; 10] = [0x40, 0x62, 0xc9, 0xf2, 0xc9, 0xcd, 0x04, 0x67, 0x4e, 0xdc];
const ONE_HERTZ: [u8; 10] = [0x3f, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0];

#[test]
fn rates_that_are_not_numbers_or_out_of_range_are_errors_not_panics_or_floods() {
    type Writer = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Writer, &str)> = vec![
        (
            "b.aiff",
            Box::new(|p| aiff_with_rate(p, NAN_RATE, 100)),
            "not a number",
        ),
        (
            "b.aiff",
            Box::new(|p| aiff_with_rate(p, INFINITE_RATE, 100)),
            "infinite",
        ),
        (
            "b.aiff",
            Box::new(|p| aiff_with_rate(p, HUGE_RATE, 100)),
            "bounce reads 1000 to 768000 Hz",
        ),
        (
            "b.aiff",
            Box::new(|p| aiff_with_rate(p, ONE_HERTZ, 80_000)),
            "of 1 Hz",
        ),
        (
            "b.wav",
            Box::new(|p| wav_with_header(p, u32::MAX, 2)),
            "of 4294967295 Hz",
        ),
        ("b.wav", Box::new(|p| wav_with_header(p, 1, 2)), "of 1 Hz"),
    ];
    for (name, write, why) in cases {
        let project = small_project();
        write(&project.path(&format!("stems/{name}")));
        project.write(
            "bounce.kdl",
            &small_kdl("", "-18", "Two").replace("stems/b.wav", &format!("stems/{name}")),
        );
        for args in [
            vec!["check"],
            vec!["build"],
            vec!["analyze", &format!("stems/{name}")],
            vec!["init", "stems"],
        ] {
            if args[0] == "init" {
                fs::remove_file(project.path("bounce.kdl")).unwrap();
            }
            let output = run_briefly(&project, &args);
            let code = output.status.code();
            assert!(
                matches!(code, Some(1) | Some(2)),
                "{name} {why} {args:?}: {code:?} {}",
                stderr(&output)
            );
            assert!(
                stderr(&output).contains(why),
                "{args:?}: {}",
                stderr(&output)
            );
            assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
        }
        // Nothing held the cache's lock: a build ends at once.
        project.write(
            "bounce.kdl",
            &small_kdl("", "-18", "Two").replace("stems/b.wav", "stems/a.wav"),
        );
        let output = run_briefly(&project, &["build"]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
}

// --- 2.12 a remote's answers cannot crash the build --------------------------

/// A web server on 127.0.0.1 that answers every request with `head` and
/// closes; it serves at most `requests` requests.
fn lying_server(head: &'static str, requests: usize) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&[0u8; 1024]);
        }
    });
    format!("http://{addr}/team")
}

#[test]
fn a_remote_that_declares_a_huge_length_or_a_bad_endpoint_costs_a_warning_or_an_error() {
    let project = small_project();
    let url = lying_server(
        "HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\nConnection: close\r\n\r\n",
        1000,
    );
    let output = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .args(["build", "--remote-cache-retries", "0"])
        .current_dir(project.path(""))
        .env("BOUNCE_REMOTE_CACHE", &url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{:?} {}",
        output.status,
        stderr(&output)
    );
    assert!(project.path("out/1.0.0/hi/01 - One.wav").is_file());

    for endpoint in ["127.0.0.1:9", "http://127.0.0.1:9 "] {
        let project = small_project();
        let output = Command::new(env!("CARGO_BIN_EXE_bounce"))
            .arg("build")
            .current_dir(project.path(""))
            .env("BOUNCE_REMOTE_CACHE", "s3://bucket/prefix")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "key")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{endpoint:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("AWS_ENDPOINT_URL"),
            "{}",
            stderr(&output)
        );
    }
}

// --- 2.13 builds at once, each with its report --------------------------------

#[test]
fn concurrent_builds_with_a_report_all_succeed() {
    let project = small_project();
    project.write(
        "bounce.kdl",
        &(small_kdl("artist \"Hostile\"", "-18", "Two") + "deliverable \"qc\" {\n    report\n}\n"),
    );
    project.build_ok(&[]);
    // Another build's report half-written: its process is running (this
    // one), so the sweep leaves it, as every build's sweep once did not.
    let live = format!("out/1.0.0/report/.index.html.{}.0.tmp", std::process::id());
    project.write(&live, "being written");
    project.write("bounce.kdl", &small_kdl("artist \"Hostile\"", "-20", "Two"));
    project.build_ok(&[]);
    assert!(
        project.path(&live).is_file(),
        "a live build's temp file was swept"
    );
    fs::remove_file(project.path(&live)).unwrap();
    for round in 0..6 {
        // Each round an edit, so the builds write a new report.
        let loudness = format!("-{}", 15 + round);
        project.write(
            "bounce.kdl",
            &(small_kdl("artist \"Hostile\"", &loudness, "Two")
                + "deliverable \"qc\" {\n    report\n}\n"),
        );
        let children: Vec<_> = (0..4)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_bounce"))
                    .arg("build")
                    .current_dir(project.path(""))
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "round {round}: {}",
                stderr(&output)
            );
        }
    }
}

// --- 2.14 costs that grow faster than the audio are capped --------------------

#[test]
fn crossover_counts_and_chain_lengths_are_capped_at_check() {
    let project = small_project();
    let crossovers: Vec<String> = (1..=9).map(|i| (i * 1000).to_string()).collect();
    let bands = "band ratio=2\n".repeat(10);
    let text = small_kdl("", "-18", "Two").replace(
        "loudness -18",
        &format!(
            "loudness -18\n    multiband {} {{\n{bands}}}",
            crossovers.join(" ")
        ),
    );
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("at most 8 crossovers"),
        "{}",
        stderr(&output)
    );

    let chain = "gain 0\n".repeat(65);
    let text =
        small_kdl("", "-18", "Two").replace("loudness -18", &format!("loudness -18\n{chain}"));
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("at most 64 processors"),
        "{}",
        stderr(&output)
    );
}

// --- 2.15 and 2.16 verify, gc and poisoned entries agree ----------------------

#[test]
fn verify_after_gc_with_a_cap_is_clean() {
    let project = small_project();
    project.build_ok(&[]);
    let gc = project.run(&["cache", "gc", "--cache-size", "1"]);
    assert!(gc.status.success(), "{}", stderr(&gc));
    let verify = project.run(&["cache", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(!stderr(&verify).contains("missing"), "{}", stderr(&verify));
    // And the next build renders what was evicted.
    project.build_ok(&[]);
}

#[test]
fn an_entry_from_a_shared_cache_naming_other_audio_is_dropped_not_kept() {
    let remote = tempfile::tempdir().unwrap();
    let url = format!("file://{}", remote.path().display());
    let build = |project: &TestProject, with_remote: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bounce"));
        command
            .args(["build", "--message-format", "json"])
            .current_dir(project.path(""));
        if with_remote {
            command.env("BOUNCE_REMOTE_CACHE", &url);
        }
        command.output().unwrap()
    };
    let a = small_project();
    assert!(build(&a, true).status.success());
    // Every entry on the remote now names the output of another.
    let entries: Vec<_> = fs::read_dir(remote.path().join("ac"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != ".bounce")
        .collect();
    let outputs: Vec<serde_json::Value> = entries
        .iter()
        .map(|p| {
            serde_json::from_slice::<serde_json::Value>(&bytes_of(p)).unwrap()["output"].clone()
        })
        .collect();
    for (i, path) in entries.iter().enumerate() {
        let mut entry: serde_json::Value = serde_json::from_slice(&bytes_of(path)).unwrap();
        entry["output"] = outputs[(i + 1) % outputs.len()].clone();
        fs::write(path, serde_json::to_vec(&entry).unwrap()).unwrap();
    }
    let b = small_project();
    let _first = build(&b, true);
    // Whatever the first build made of them, the second, without the
    // remote, is not held back by what it kept.
    let second = build(&b, false);
    assert!(second.status.success(), "{}", stderr(&second));
    let third = build(&b, false);
    assert!(third.status.success(), "{}", stderr(&third));
    assert_eq!(
        bytes_of(&b.path("out/1.0.0/hi/01 - One.wav")),
        bytes_of(&a.path("out/1.0.0/hi/01 - One.wav"))
    );
}

// --- 2.18 no instance metadata unless asked -----------------------------------

#[test]
fn s3_without_credentials_warns_and_asks_no_metadata_service() {
    let project = small_project();
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_bounce"));
    command
        .arg("build")
        .current_dir(project.path(""))
        .env("BOUNCE_REMOTE_CACHE", "s3://bucket/prefix")
        .env("HOME", home.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    for variable in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        command.env_remove(variable);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no credentials"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("credentials=instance"),
        "{}",
        stderr(&output)
    );
}

// --- 2.19 the smaller ones ----------------------------------------------------

#[test]
fn outputs_versions_and_lengths_that_cannot_be_written_are_errors_at_check() {
    let cases = [
        (
            "version \"1.0.0\"",
            "version \"1.0.0\"\n    output \"bounce.kdl\"",
            "is a file, not a folder",
        ),
        (
            "version \"1.0.0\"",
            "version \"1.0.0\"\n    version \"2.0.0\"",
            "a second `version`",
        ),
        (
            "version \"1.0.0\"",
            "version \"1.0\u{202E}vaw.exe\"",
            "U+202E",
        ),
        (
            "stem \"b\" \"stems/b.wav\"",
            "stem \"b\" \"stems/b.wav\"\n    length 1e-300",
            "out of range",
        ),
    ];
    for (from, to, why) in cases {
        let project = small_project();
        project.write(
            "bounce.kdl",
            &small_kdl("", "-18", "Two").replacen(from, to, 1),
        );
        let output = project.run(&["check"]);
        assert_eq!(output.status.code(), Some(2), "{to}: {}", stderr(&output));
        assert!(stderr(&output).contains(why), "{to}: {}", stderr(&output));
    }
    let project = small_project();
    let long = "v".repeat(256);
    project.write(
        "bounce.kdl",
        &small_kdl("", "-18", "Two").replace("version \"1.0.0\"", &format!("version \"{long}\"")),
    );
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cap at 255 bytes"),
        "{}",
        stderr(&output)
    );
    let deep = vec!["d".repeat(200); 21].join("/");
    project.write(
        "bounce.kdl",
        &kdl_with_deliverable(&format!("path \"{deep}/{{track}}.{{ext}}\"")),
    );
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("bytes long"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn clean_says_why_it_kept_each_thing() {
    let project = small_project();
    project.build_ok(&[]);
    project.write("out/1.0.0/hi/mine.txt", "the user's");
    let output = project.run(&["clean", "--outputs"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("still holds files bounce did not write"),
        "{text}"
    );
    assert!(!text.contains("1.0.0 (bounce did not write it)"), "{text}");
}

#[test]
fn an_aac_stem_in_mp4_reads() {
    if !tool_available("ffmpeg", "-version") {
        return;
    }
    let project = small_project();
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(project.path("stems/b.wav"))
        .args(["-c:a", "aac", "-b:a", "192k"])
        .arg(project.path("stems/b.m4a"))
        .status()
        .unwrap();
    assert!(status.success());
    project.write(
        "bounce.kdl",
        &small_kdl("", "-18", "Two").replace("stems/b.wav", "stems/b.m4a"),
    );
    let output = project.run(&["check"]);
    assert!(output.status.success(), "{}", stderr(&output));
    project.build_ok(&[]);
}

#[test]
fn a_source_inside_the_cache_folder_is_refused() {
    let project = small_project();
    fs::create_dir_all(project.path(".bounce/mine")).unwrap();
    fs::copy(
        project.path("stems/b.wav"),
        project.path(".bounce/mine/b.wav"),
    )
    .unwrap();
    project.write(
        "bounce.kdl",
        &small_kdl("", "-18", "Two").replace("stems/b.wav", ".bounce/mine/b.wav"),
    );
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("inside the cache folder"),
        "{}",
        stderr(&output)
    );
    // And an explicit --cache-dir holding a source.
    project.write("bounce.kdl", &small_kdl("", "-18", "Two"));
    let log = project.build(&["--cache-dir", "stems"]);
    assert_eq!(log.output.status.code(), Some(1), "{}", stderr(&log.output));
}

#[test]
fn a_header_behind_a_junk_prefix_is_an_error_not_a_panic() {
    // Found by the chunks campaign (seed 7): the decoder's probe finds
    // `FORM` past eight junk bytes, behind bounce's own header check.
    let bytes = include_bytes!("../fuzz/regressions/chunks/aiff-nan-rate-behind-a-junk-prefix");
    let project = small_project();
    fs::write(project.path("stems/b.aiff"), bytes).unwrap();
    project.write(
        "bounce.kdl",
        &small_kdl("", "-18", "Two").replace("stems/b.wav", "stems/b.aiff"),
    );
    for args in [
        vec!["check"],
        vec!["analyze", "stems/b.aiff"],
        vec!["build"],
    ] {
        let output = run_briefly(&project, &args);
        assert!(
            matches!(output.status.code(), Some(1) | Some(2)),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("b.aiff"),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains("panicked"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn steps_skipped_after_a_failure_are_counted_not_listed() {
    let project = small_project();
    float_wav_with(&project.path("stems/b.wav"), 1234, f32::NAN);
    let output = project.run(&["build"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("sample frame 1234"), "{text}");
    assert!(!text.contains("not run: an input failed"), "{text}");
    assert!(
        text.contains("Skipped") && text.contains("whose inputs failed"),
        "{text}"
    );
    // Verbose still lists each.
    let output = project.run(&["build", "-v"]);
    assert!(
        stderr(&output).contains("not run: an input failed"),
        "{}",
        stderr(&output)
    );
}
