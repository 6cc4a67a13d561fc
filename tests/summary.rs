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
        // The most the master's limiter takes off, in dB.
        assert!(row.trim_end().ends_with(" dB"), "{row}");
    }
    assert!(stderr.contains("limiting"), "{stderr}");
    // Nothing written, nothing to show.
    let again = project.run(&["build"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!stderr.contains(" LUFS"), "{stderr}");
    // -v says every step.
    std::fs::remove_dir_all(project.path(".bounce")).unwrap();
    let verbose = project.run(&["build", "-v"]);
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        stderr.contains("Rendered stem:") && stderr.contains("Rendered master:"),
        "{stderr}"
    );
}
