//! What a person sees after a build: the files as they render (every step
//! only with -v), and each file written, its loudness and true peak
//! against what the project asks.

mod common;

use common::*;

#[test]
fn a_build_says_its_files_in_audio_terms_and_its_steps_only_when_asked() {
    let project = three_track_project();
    project.write(
        "bounce.kdl",
        &THREE_TRACKS
            .replace(
                "master \"main\" {",
                "master \"main\" target=-18 ceiling=-1.0 {",
            )
            .replace("    loudness -18\n", ""),
    );
    let output = project.run(&["build"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Files are news; a track's inner steps are not.
    assert!(stderr.contains("Rendered deliverable:hi:1"), "{stderr}");
    assert!(!stderr.contains("Rendered stem:"), "{stderr}");
    assert!(!stderr.contains("Rendered master:"), "{stderr}");
    // One row per written file: its loudness against the target, its
    // peak against the ceiling.
    let rows: Vec<&str> = stderr.lines().filter(|l| l.contains(" LUFS")).collect();
    assert_eq!(rows.len(), 6, "{stderr}");
    for row in &rows {
        assert!(row.contains("(on target)") || row.contains(" LU)"), "{row}");
        assert!(row.contains("dBTP (") && row.contains(" under)"), "{row}");
        // The most and the mean the master's limiter takes off, in dB;
        // the version had no such file before.
        assert!(
            row.contains(" dB, ") && row.contains(" dB  ") && row.trim_end().ends_with("new"),
            "{row}"
        );
    }
    assert!(
        stderr.contains("limiting") && stderr.contains("before this build"),
        "{stderr}"
    );
    // Nothing written, nothing to show.
    let again = project.run(&["build"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!stderr.contains(" LUFS"), "{stderr}");
    // A new target: each file says what it was before.
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    project.write("bounce.kdl", &text.replace("target=-18", "target=-17"));
    let edited = project.run(&["build"]);
    let stderr = String::from_utf8_lossy(&edited.stderr);
    let rows: Vec<&str> = stderr.lines().filter(|l| l.contains(" LUFS")).collect();
    assert_eq!(rows.len(), 6, "{stderr}");
    for row in &rows {
        assert!(row.contains("-17.0 LUFS (on target)"), "{row}");
        assert!(
            row.contains("-18.0 LUFS, ") && row.trim_end().ends_with(" dBTP"),
            "{row}"
        );
    }
    // -v says every step.
    std::fs::remove_dir_all(project.path(".bounce")).unwrap();
    let verbose = project.run(&["build", "-v"]);
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        stderr.contains("Rendered stem:") && stderr.contains("Rendered master:"),
        "{stderr}"
    );
}

/// On a terminal (a pty, through `script`) the progress bar counts seconds
/// of audio out of the release's; piped, the build prints progress lines
/// in the same terms beside the files it renders.
#[test]
fn progress_is_in_seconds_of_audio_on_a_terminal_and_in_a_pipe() {
    if !tool_available("script", "--version") {
        return;
    }
    let project = three_track_project();
    let command = format!("{} build -j 1", env!("CARGO_BIN_EXE_bounce"));
    let pty = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .current_dir(project.path(""))
        .env("COLUMNS", "150")
        .output()
        .unwrap();
    assert!(pty.status.success());
    let screen = String::from_utf8_lossy(&pty.stdout);
    assert!(
        screen.contains("Building"),
        "no bar on a terminal: {screen}"
    );
    // Three tracks of 1.2 s (their longest stems): 3.6 s in all.
    let pieces: Vec<&str> = screen.split(" of audio").collect();
    let total = pieces[..pieces.len() - 1]
        .last()
        .and_then(|before| before.rsplit(" of ").next())
        .unwrap_or_else(|| panic!("no seconds of audio: {screen}"));
    assert_eq!(total.trim(), "4 s", "{screen}");

    // Piped: lines, no bar.
    std::fs::remove_dir_all(project.path(".bounce")).unwrap();
    std::fs::remove_dir_all(project.path("out")).unwrap();
    let piped = project.run(&["build", "-j", "1"]);
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("Building"), "{stderr}");
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Progress"))
        .collect();
    assert!(!progress.is_empty(), "{stderr}");
    assert!(progress[0].contains(" of 4 s of audio"), "{progress:?}");
}

#[test]
fn every_file_written_has_a_row_and_no_figure_reads_minus_zero() {
    let project = three_track_project();
    project.write(
        "bounce.kdl",
        &(THREE_TRACKS.replace("    version \"1.0.0\"\n", "").replace(
            "\" {\n    stem \"kick\"",
            "\" {\n    length 4.5\n    stem \"kick\"",
        ) + "deliverable \"disc\" { master \"main\"; format \"cd\"; }\n"),
    );
    let output = project.run(&["build"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // No version: the one LANGUAGE.md names.
    assert!(
        project.path("out/1.0.0/manifest.json").is_file(),
        "{stderr}"
    );
    let written: usize = stderr
        .lines()
        .find(|l| l.contains(" files written") || l.contains(" file written"))
        .and_then(|l| l.split("; ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count: {stderr}"));
    let table = &stderr[stderr.find("before this build").expect("the table")..];
    let rows = table
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("           "))
        .count();
    assert_eq!(rows, written, "{stderr}");
    assert!(table.contains(".cue") && table.contains("text"), "{stderr}");
    assert!(
        !stderr.contains("-0.0 ") && !stderr.contains("-0.00 "),
        "{stderr}"
    );
}
