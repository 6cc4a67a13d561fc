//! `bounce watch` rebuilds when the project changes, with `build`'s output.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

#[test]
fn watch_rebuilds_what_an_edit_touches() {
    let project = three_track_project();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .args(["watch", "--message-format", "json"])
        .current_dir(project.path(""))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A guard: a watch that never rebuilds must not hang the suite.
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(120));
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_build = || -> Vec<Value> {
        let mut steps = Vec::new();
        for line in lines.by_ref() {
            let value: Value = serde_json::from_str(&line.unwrap()).unwrap();
            if value["summary"] == true {
                return steps;
            }
            steps.push(value);
        }
        panic!("watch stopped before a build finished");
    };
    let first = next_build();
    assert!(first.iter().all(|s| s["status"] == "built"));
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    project.write("bounce.kdl", &text.replacen("gain=-3", "gain=-4.5", 1));
    let second = next_build();
    let built: Vec<&str> = second
        .iter()
        .filter(|s| s["status"] == "built")
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(built.contains(&"stem:1:kick"), "{built:?}");
    assert!(!built.contains(&"stem:2:kick"), "{built:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn watch_says_it_does_not_rebuild_the_report() {
    let project = three_track_project();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .arg("watch")
        .current_dir(project.path(""))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    let watching = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("Watching"));
    let _ = child.kill();
    let _ = child.wait();
    let line = watching.expect("watch said what it watches");
    assert!(line.contains("release report is not rebuilt"), "{line}");
}
