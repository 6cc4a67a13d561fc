//! Builds killed with SIGKILL at many points, each followed by more
//! killed builds and then a normal one: every file that appears is whole,
//! the final outputs equal a clean build's, and `bounce cache verify`
//! finds the cache clean.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

/// Starts a build and kills it (SIGKILL) once it has reported `steps`
/// steps; false if it finished first.
fn build_and_kill_after(project: &TestProject, steps: usize) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .args(["build", "-j", "2", "--message-format", "json"])
        .current_dir(project.path(""))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    for _ in 0..steps {
        if lines.next().is_none() {
            break;
        }
    }
    let killed = child.try_wait().unwrap().is_none() && child.kill().is_ok();
    child.wait().unwrap();
    killed
}

#[test]
fn killed_builds_leave_nothing_half_written_and_the_next_build_is_correct() {
    let reference = three_track_project();
    reference.build_ok(&[]);
    let wanted = reference.path("out/1.0.0");
    let project = three_track_project();
    let mut kills = 0;
    // Points across the build: before the first step, among the sources,
    // the mixes, the masters, the encodes and the tags.
    for steps in [0, 2, 5, 9, 14, 20, 27, 33, 38, 40, 41] {
        kills += build_and_kill_after(&project, steps) as usize;
        // Whatever appeared in the output folder is whole and right.
        for file in files(&project.path("out/1.0.0")) {
            if file == "manifest.json" {
                continue;
            }
            let got = std::fs::read(project.path(&format!("out/1.0.0/{file}"))).unwrap();
            let want = std::fs::read(wanted.join(&file))
                .unwrap_or_else(|_| panic!("after {steps} steps: unexpected file {file}"));
            assert!(got == want, "after {steps} steps: {file} is not whole");
        }
    }
    assert!(kills >= 5, "only {kills} builds were killed mid-way");
    // What a kill during publishing or rendering leaves: temporary files.
    std::fs::create_dir_all(project.path("out/1.0.0/hi")).unwrap();
    project.write("out/1.0.0/hi/.01 - One.wav.4999999.7.tmp", "half a file");
    project.write(".bounce/tmp/.master.4999999.8.tmp", "half a blob");
    let log = project.build_ok(&[]);
    assert_eq!(log.summary["failed"], 0);
    assert_eq!(files(&project.path("out/1.0.0")), files(&wanted));
    for file in files(&wanted) {
        if file != "manifest.json" {
            let got = std::fs::read(project.path(&format!("out/1.0.0/{file}"))).unwrap();
            assert!(got == std::fs::read(wanted.join(&file)).unwrap(), "{file}");
        }
    }
    let verify = project.run(&["cache", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(files(&project.path(".bounce/tmp")).is_empty());
}
