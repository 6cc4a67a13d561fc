//! Delivery standards: each sets its target and ceiling, and a file out of
//! spec fails the build with the measured figures.

mod common;

use common::*;

const STANDARDS: [(&str, f64, f64, f64); 6] = [
    // name, target LUFS, tolerance LU, max true peak dBTP
    ("ebu-r128", -23.0, 0.5, -1.0),
    ("atsc-a85", -24.0, 2.0, -2.0),
    ("spotify", -14.0, 1.0, -1.0),
    ("apple-music", -16.0, 1.0, -1.0),
    ("youtube", -14.0, 1.0, -1.0),
    ("apple-podcasts", -16.0, 1.0, -1.0),
];

fn project() -> TestProject {
    let project = TestProject::new();
    let music: Vec<f64> = (0..48000 * 5)
        .map(|i| {
            let t = i as f64 / 48000.0;
            0.4 * (std::f64::consts::TAU * 110.0 * t).sin()
                + 0.2 * (std::f64::consts::TAU * 3300.0 * t).sin() * (t * 3.0).sin()
        })
        .collect();
    project.wav("mix.wav", 48000, 24, &[music.clone(), music]);
    let mut text = String::from(
        "release \"Standards\" { version \"s\"; }\nmaster \"plain\" { }\ntrack 1 \"T\" { stem \"mix\" \"mix.wav\"; }\n",
    );
    for (name, target, tolerance, _) in STANDARDS {
        // One that meets the standard, and one told to miss it.
        let off = target + 2.0 * tolerance + 1.0;
        text.push_str(&format!(
            "deliverable \"good-{name}\" {{ master \"plain\"; standard \"{name}\"; format \"wav\" bits=24; }}\n\
             deliverable \"bad-{name}\" target={off} {{ master \"plain\"; standard \"{name}\"; format \"wav\" bits=24; }}\n"
        ));
    }
    project.write("bounce.kdl", &text);
    project
}

#[test]
fn every_standard_passes_a_render_that_meets_it() {
    let project = project();
    let targets: Vec<String> = STANDARDS
        .iter()
        .map(|(name, ..)| format!("good-{name}"))
        .collect();
    let args: Vec<&str> = targets.iter().map(String::as_str).collect();
    project.build_ok(&args);
    for (name, target, tolerance, max_peak) in STANDARDS {
        let output = project.run(&[
            "analyze",
            "--message-format",
            "json",
            &format!("out/s/good-{name}/01 - T.wav"),
        ]);
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let loudness = value["integrated"].as_f64().unwrap();
        let peak = value["true_peak"].as_f64().unwrap();
        assert!(
            (loudness - target).abs() <= tolerance.min(0.1),
            "{name}: {loudness} LUFS"
        );
        assert!(peak <= max_peak, "{name}: {peak} dBTP");
    }
}

#[test]
fn every_standard_fails_a_render_that_misses_it_with_the_figures() {
    let project = project();
    for (name, target, tolerance, max_peak) in STANDARDS {
        let log = project.build(&[&format!("bad-{name}")]);
        assert_eq!(log.output.status.code(), Some(1), "{name} should fail");
        let stderr = String::from_utf8_lossy(&log.output.stderr);
        let expected = format!("out of {name}: the file reads");
        assert!(stderr.contains(&expected), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{name} asks {target} LUFS ±{tolerance} LU and at most {max_peak} dBTP"
            )),
            "{stderr}"
        );
        assert!(
            !project.path(&format!("out/s/bad-{name}")).exists(),
            "{name}: nothing is written"
        );
    }
}

#[test]
fn unknown_standards_are_named_with_a_hint() {
    let project = project();
    let text = std::fs::read_to_string(project.path("bounce.kdl"))
        .unwrap()
        .replacen("standard \"ebu-r128\"", "standard \"ebu-r12\"", 1);
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown standard \"ebu-r12\"")
            && stderr.contains("did you mean \"ebu-r128\"?"),
        "{stderr}"
    );
}
