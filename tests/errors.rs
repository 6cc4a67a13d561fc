//! Mistakes are reported with the file, line and column, every one at once,
//! and a failed build writes nothing.

mod common;

use common::*;

/// Runs `bounce check` on `text` and returns stderr; the check must fail.
fn check_fails(project: &TestProject, text: &str) -> String {
    project.write("bounce.kdl", text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2), "check should fail");
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn project() -> TestProject {
    let project = TestProject::new();
    project.wav("kick.wav", 48000, 16, &sine(48000, 1, 60.0, 0.5, 0.5));
    project
}

const HEAD: &str = "release \"E\" {\n    version \"1\"\n}\n";

/// Asserts that one diagnostic with `code` reports `message` at
/// `location`: each diagnostic starts with its code on a line of its own.
fn assert_reports(stderr: &str, code: &str, location: &str, message: &str) {
    let found = stderr
        .split("\nbounce::")
        .map(|block| block.trim_start_matches("bounce::"))
        .filter(|block| block.starts_with(&format!("{}\n", code.trim_start_matches("bounce::"))))
        .any(|block| {
            block.contains(&format!("[bounce.kdl:{location}]")) && block.contains(message)
        });
    assert!(
        found,
        "no {code} saying \"{message}\" at bounce.kdl:{location} in:\n{stderr}"
    );
}

#[test]
fn unknown_node_suggests_the_nearest_name() {
    let stderr = check_fails(
        &project(),
        &format!("{HEAD}trak 1 \"A\" {{\n    stem \"k\" \"kick.wav\"\n}}\n"),
    );
    assert_reports(
        &stderr,
        "bounce::unknown-node",
        "4:1",
        "unknown node `trak` at the top level",
    );
    assert!(stderr.contains("did you mean `track`?"), "{stderr}");
}

#[test]
fn unknown_property_suggests_the_nearest_name() {
    let stderr = check_fails(
        &project(),
        &format!("{HEAD}track 1 \"A\" {{\n    stem \"k\" \"kick.wav\" gian=-3\n}}\n"),
    );
    assert_reports(
        &stderr,
        "bounce::unknown-property",
        "5:25",
        "unknown property `gian` on `stem`",
    );
    assert!(stderr.contains("did you mean `gain`?"), "{stderr}");
}

#[test]
fn wrong_types_and_ranges_are_caught() {
    let stderr = check_fails(
        &project(),
        &format!("{HEAD}track 1 \"A\" {{\n    stem \"k\" \"kick.wav\" pan=2 gain=\"loud\"\n}}\n"),
    );
    assert_reports(&stderr, "bounce::out-of-range", "5:25", "2 is out of range");
    assert!(stderr.contains("must be between -1 and 1"), "{stderr}");
    assert_reports(
        &stderr,
        "bounce::wrong-type",
        "5:31",
        "expected a number, found a string",
    );
}

#[test]
fn missing_files_point_at_the_path() {
    let stderr = check_fails(
        &project(),
        &format!("{HEAD}track 1 \"A\" {{\n    stem \"k\" \"kik.wav\"\n}}\n"),
    );
    assert_reports(
        &stderr,
        "bounce::missing-file",
        "5:14",
        "audio file not found: kik.wav",
    );
}

#[test]
fn invalid_isrc_and_upc_say_why() {
    let text = "release \"E\" {\n    version \"1\"\n    upc \"5012345678901\"\n}\n\
                track 1 \"A\" {\n    isrc \"GB-XYZ-2X-00001\"\n    stem \"k\" \"kick.wav\"\n}\n";
    let stderr = check_fails(&project(), text);
    assert_reports(
        &stderr,
        "bounce::bad-identifier",
        "3:9",
        "invalid UPC/EAN \"5012345678901\"",
    );
    assert!(
        stderr.contains("the check digit is 1, but the other digits give 0"),
        "{stderr}"
    );
    assert_reports(
        &stderr,
        "bounce::bad-identifier",
        "6:10",
        "invalid ISRC \"GB-XYZ-2X-00001\"",
    );
    assert!(
        stderr.contains("the year `2X` must be two digits"),
        "{stderr}"
    );
}

#[test]
fn routing_mistakes_point_at_the_member() {
    let text = format!(
        "{HEAD}track 1 \"A\" {{\n    stem \"kick\" \"kick.wav\"\n    stem \"kick\" \"kick.wav\"\n    \
         bus \"drums\" \"kik\"\n    bus \"x\" \"y\"\n    bus \"y\" \"x\"\n}}\n"
    );
    let stderr = check_fails(&project(), &text);
    assert_reports(
        &stderr,
        "bounce::duplicate",
        "6:5",
        "\"kick\" is defined twice in track 1",
    );
    assert_reports(
        &stderr,
        "bounce::bad-routing",
        "7:17",
        "unknown stem or bus \"kik\" in bus \"drums\"",
    );
    assert!(stderr.contains("did you mean \"kick\"?"), "{stderr}");
    assert_reports(
        &stderr,
        "bounce::bad-routing",
        "8:5",
        "bus \"x\" feeds itself through a cycle",
    );
    assert_reports(
        &stderr,
        "bounce::bad-routing",
        "9:5",
        "bus \"y\" feeds itself through a cycle",
    );
}

#[test]
fn a_member_in_two_buses_is_an_error() {
    let text = format!(
        "{HEAD}track 1 \"A\" {{\n    stem \"kick\" \"kick.wav\"\n    bus \"a\" \"kick\"\n    bus \"b\" \"kick\"\n}}\n"
    );
    let stderr = check_fails(&project(), &text);
    assert_reports(
        &stderr,
        "bounce::bad-routing",
        "7:13",
        "\"kick\" is in two buses, \"a\" and \"b\"",
    );
}

#[test]
fn duplicates_across_the_project_are_errors() {
    let text = format!(
        "{HEAD}master \"m\" {{}}\nmaster \"m\" {{}}\ntrack 1 \"A\" {{ stem \"k\" \"kick.wav\"; }}\n\
         track 1 \"B\" {{ stem \"k\" \"kick.wav\"; }}\n\
         deliverable \"d\" {{ master \"mm\"; format \"wav\"; }}\n"
    );
    let stderr = check_fails(&project(), &text);
    assert_reports(
        &stderr,
        "bounce::duplicate",
        "5:1",
        "master \"m\" is defined twice",
    );
    assert_reports(
        &stderr,
        "bounce::duplicate",
        "7:1",
        "track 1 is defined twice",
    );
    assert_reports(
        &stderr,
        "bounce::bad-routing",
        "8:19",
        "unknown master \"mm\"",
    );
    assert!(stderr.contains("did you mean \"m\"?"), "{stderr}");
}

#[test]
fn check_reports_every_error_at_once() {
    let text = format!(
        "{HEAD}track 1 \"A\" {{\n    stem \"k\" \"nope.wav\" gian=1\n    fade-in -1\n}}\nfoo\n"
    );
    let stderr = check_fails(&project(), &text);
    assert!(
        stderr.contains("error: 4 errors in the project"),
        "{stderr}"
    );
}

#[test]
fn syntax_errors_point_at_the_line() {
    let stderr = check_fails(
        &project(),
        &format!("{HEAD}track 1 \"A\" {{\n    stem \"k\" \"kick.wav\" gain=\n}}\n"),
    );
    assert!(stderr.contains("[bounce.kdl:5:"), "{stderr}");
    assert!(stderr.starts_with("bounce::syntax\n"), "{stderr}");
}

#[test]
fn errors_in_included_files_name_that_file() {
    let project = project();
    project.write("masters.kdl", "master \"m\" {\n    widht 1.2\n}\n");
    let stderr = check_fails(
        &project,
        &format!("{HEAD}include \"masters.kdl\"\ninclude \"missing.kdl\"\ntrack 1 \"A\" {{ stem \"k\" \"kick.wav\"; }}\n"),
    );
    assert!(stderr.contains("[masters.kdl:2:5]"), "{stderr}");
    assert!(stderr.contains("did you mean `width`?"), "{stderr}");
    assert_reports(
        &stderr,
        "bounce::missing-file",
        "5:9",
        "cannot read missing.kdl",
    );
}

#[test]
fn includes_and_kdl_v1_files_are_read() {
    let project = project();
    // KDL 1.0 syntax: bare true, no # prefix.
    project.write(
        "deliverables.kdl",
        "deliverable \"d\" {\n    master \"m\"\n    format \"wav\" bits=32 float=true\n}\n",
    );
    project.write(
        "bounce.kdl",
        &format!("{HEAD}include \"deliverables.kdl\"\nmaster \"m\" {{}}\ntrack 1 \"A\" {{ stem \"k\" \"kick.wav\"; }}\n"),
    );
    let output = project.run(&["check"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    project.build_ok(&[]);
    let (spec, _) = project.read_wav("out/1/d/01 - A.wav");
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
}

#[test]
fn a_bad_audio_file_names_the_file_and_nothing_is_written() {
    let project = project();
    project.write("broken.wav", "RIFF this is not audio at all");
    project.write(
        "bounce.kdl",
        &format!(
            "{HEAD}master \"m\" {{}}\ntrack 1 \"A\" {{ stem \"k\" \"kick.wav\"; }}\n\
             track 2 \"B\" {{ stem \"b\" \"broken.wav\"; }}\n\
             deliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n"
        ),
    );
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&log.output.stderr);
    assert!(
        stderr.contains("broken.wav: not an audio file bounce can read"),
        "{stderr}"
    );
    assert!(log
        .steps
        .iter()
        .any(|s| s["step"] == "source:2:b" && s["status"] == "failed"));
    assert!(
        !project.path("out").exists(),
        "a failed build writes no outputs"
    );
    // Track 1's work is kept in the cache for the next build.
    assert!(log.built().contains("deliverable:d:1"));
}

#[test]
fn more_than_two_channels_is_an_error_naming_the_file() {
    let project = project();
    project.wav("surround.wav", 48000, 16, &sine(48000, 6, 100.0, 0.1, 0.1));
    project.write(
        "bounce.kdl",
        &format!("{HEAD}master \"m\" {{}}\ntrack 1 \"A\" {{ stem \"s\" \"surround.wav\"; }}\ndeliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n"),
    );
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&log.output.stderr);
    assert!(
        stderr.contains("surround.wav: 6 channels; bounce takes mono or stereo sources"),
        "{stderr}"
    );
}

#[test]
fn output_paths_that_collide_are_errors() {
    let project = project();
    project.write(
        "bounce.kdl",
        &format!(
            "{HEAD}master \"m\" {{}}\ntrack 1 \"A\" {{ stem \"k\" \"kick.wav\"; }}\n\
             deliverable \"a\" {{ master \"m\"; format \"wav\"; path \"x.{{ext}}\"; }}\n\
             deliverable \"b\" {{ master \"m\"; format \"wav\"; path \"x.{{ext}}\"; }}\n"
        ),
    );
    let output = project.run(&["build"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("both write x.wav"), "{stderr}");
}

#[test]
fn check_opens_every_audio_file_and_points_at_the_bad_ones() {
    let project = project();
    project.write("notes.wav", "these are session notes, saved as .wav");
    project.wav("surround.wav", 48000, 16, &sine(48000, 6, 100.0, 0.1, 0.1));
    let stderr = check_fails(
        &project,
        &format!(
            "{HEAD}master \"m\" {{}}\ntrack 1 \"A\" {{\n    stem \"k\" \"kick.wav\"\n    stem \"n\" \"notes.wav\"\n}}\n\
             track 2 \"B\" {{\n    stem \"s\" \"surround.wav\"\n}}\n\
             deliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n"
        ),
    );
    assert_reports(
        &stderr,
        "bounce::bad-audio",
        "7:14",
        "notes.wav: not an audio file bounce can read",
    );
    assert_reports(
        &stderr,
        "bounce::bad-audio",
        "10:14",
        "surround.wav: 6 channels; bounce takes mono or stereo sources",
    );
    assert!(stderr.contains("2 errors"), "{stderr}");
    assert!(
        !stderr.contains("kick.wav:"),
        "the good file is not reported:\n{stderr}"
    );
}

#[test]
fn a_truncated_file_fails_the_build_and_says_how_short_it_is() {
    let project = project();
    // An interrupted copy: the header declares half a second, the file
    // holds the first 1000 frames.
    let whole = std::fs::read(project.path("kick.wav")).unwrap();
    let header = whole.len() - 24000 * 2;
    std::fs::write(project.path("cut.wav"), &whole[..header + 2000]).unwrap();
    project.write(
        "bounce.kdl",
        &format!(
            "{HEAD}master \"m\" {{}}\ntrack 1 \"A\" {{ stem \"k\" \"cut.wav\"; }}\n\
             deliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n"
        ),
    );
    let message =
        "cut.wav: truncated: its header declares 24000 frames but the audio ends after 1000";
    // check reads the chunk sizes against the file's length...
    let checked = project.run(&["check"]);
    assert_eq!(checked.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&checked.stderr).replace("\n  │ ", " ");
    assert_reports(&stderr, "bounce::bad-audio", "5:24", message);
    // ...and a build, decoding, finds the audio end early.
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&log.output.stderr);
    assert!(stderr.contains(message), "{stderr}");
    assert!(!project.path("out").exists());
}

#[test]
fn a_wav_whose_writer_could_not_seek_back_is_read_to_its_end() {
    let project = project();
    project.wav("stereo.wav", 48000, 16, &sine(48000, 2, 60.0, 0.5, 0.5));
    // A piped WAV: RIFF and data sizes left at 0xFFFFFFFF.
    let mut bytes = std::fs::read(project.path("stereo.wav")).unwrap();
    let data = bytes.windows(4).position(|w| w == b"data").unwrap();
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[data + 4..data + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(project.path("piped.wav"), &bytes).unwrap();
    project.write(
        "bounce.kdl",
        &format!(
            "{HEAD}master \"m\" {{}}\ntrack 1 \"A\" {{ stem \"k\" \"piped.wav\"; }}\n\
             deliverable \"d\" {{ master \"m\"; format \"wav\" bits=16; }}\n"
        ),
    );
    project.build_ok(&[]);
    let (_, delivered) = project.read_wav("out/1/d/01 - A.wav");
    let (_, original) = project.read_wav("stereo.wav");
    assert_eq!(delivered[0].len(), original[0].len(), "every frame");
    assert!(delivered == original, "the samples, unchanged");
}

#[test]
fn no_project_file_says_how_to_name_or_write_one() {
    let project = TestProject::new();
    let output = project.run(&["build"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read bounce.kdl"), "{stderr}");
    assert!(stderr.contains("-f FILE"), "{stderr}");
    assert!(stderr.contains("bounce init"), "{stderr}");
}

#[test]
fn check_counts_in_english() {
    let project = project();
    project.write(
        "bounce.kdl",
        &format!(
            "{HEAD}master \"m\" {{ }}\ntrack 1 \"A\" {{\n    stem \"k\" \"kick.wav\"\n}}\n\
             deliverable \"d\" {{\n    master \"m\"\n    format \"wav\"\n}}\n"
        ),
    );
    let output = project.run(&["check"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The answer goes to standard output, as a query's does.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ok (1 track, 1 master, 1 deliverable)"),
        "{stdout}"
    );
}

#[test]
fn every_diagnostic_code_is_in_the_reference() {
    let docs = include_str!("../docs/commands.md");
    for code in bounce_engine::Code::ALL {
        assert!(
            docs.contains(&format!("| `{code}` |")),
            "{code} is missing from docs/commands.md"
        );
    }
}

#[test]
fn checks_name_their_mistakes() {
    let stderr = check_fails(
        &project(),
        &format!(
            "{HEAD}track 1 \"A\" {{\n    stem \"k\" \"kick.wav\"\n}}\nchecks {{\n    dynamic plr=3\n    silence head=-1\n}}\nchecks {{ }}\n"
        ),
    );
    assert_reports(
        &stderr,
        "bounce::unknown-node",
        "8:5",
        "unknown check `dynamic` in `checks`",
    );
    assert!(stderr.contains("did you mean `dynamics`?"), "{stderr}");
    assert_reports(
        &stderr,
        "bounce::out-of-range",
        "9:13",
        "-1 is out of range",
    );
    assert_reports(&stderr, "bounce::duplicate", "11:1", "a second `checks`");
}

#[test]
fn a_misspelt_file_name_and_stem_name_get_a_did_you_mean_at_the_name() {
    let project = project();
    project.wav(
        "stems/02/tenor.aiff.wav",
        48000,
        16,
        &sine(48000, 1, 60.0, 0.5, 0.5),
    );
    let text = format!(
        "{HEAD}master \"m\" {{ }}\ntrack 1 \"T\" {{\n    stem \"kick\" \"kick.wav\"\n    stem \"tenor\" \"stems/02/tenr.aiff.wav\"\n    bus \"drums\" \"kick\"\n}}\n\
         deliverable \"parts\" {{ stems \"drums\" \"drumz\"; format \"wav\"; }}\n"
    );
    let stderr = check_fails(&project, &text);
    assert_reports(
        &stderr,
        "bounce::missing-file",
        "7:18",
        "audio file not found",
    );
    assert!(
        stderr.contains("did you mean \"stems/02/tenor.aiff.wav\"?"),
        "{stderr}"
    );
    // The caret at "drumz", not at the `stems` node.
    assert_reports(
        &stderr,
        "bounce::bad-routing",
        "10:37",
        "no track has a stem or bus \"drumz\"",
    );
    assert!(stderr.contains("did you mean \"drums\"?"), "{stderr}");
}

/// A target a limiter cannot reach under its ceiling is said by `check`,
/// before anything renders, and again by the build, which then fails.
#[test]
fn an_unreachable_target_is_said_at_check() {
    let project = project();
    let kdl = |target: &str| {
        format!(
            "{HEAD}master \"m\" target={target} {{}}\ntrack 1 \"A\" {{ stem \"k\" \"kick.wav\"; }}\n\
             deliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n"
        )
    };
    let unreachable = "is 2 dB under the -1 dBTP ceiling (from the master), closer than a sine";
    project.write("bounce.kdl", &kdl("-3"));
    project.expect(&["check"]).status(0).warns(1, unreachable);
    project.expect(&["build"]).warns(1, unreachable);
    project.write("bounce.kdl", &kdl("-14"));
    project
        .expect(&["check"])
        .status(0)
        .warns(0, "no limiter reaches it");
}
