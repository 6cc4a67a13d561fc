//! The release report: `bounce report` builds, inspects every delivered
//! file once, writes a page and its JSON twin, and fails on a failed
//! check; the page renders in a real browser.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const PROJECT: &str = r#"
release "Report" {
    artist "Tests"
    version "1.0.0"
}
master "main" target=-16 ceiling=-1.0 { }
track 1 "Tone" {
    stem "a" "stems/a.wav"
}
track 2 "Other" {
    stem "b" "stems/b.wav"
}
deliverable "wav" {
    master "main"
    format "wav" bits=24
}
deliverable "mp3" {
    master "main"
    format "mp3" bitrate=320
}
"#;

fn project() -> TestProject {
    let project = TestProject::new();
    project
        .wav("stems/a.wav", 48000, 24, &sine(48000, 2, 440.0, 0.5, 6.0))
        .wav("stems/b.wav", 48000, 24, &sine(48000, 1, 220.0, 0.3, 5.0));
    project.write("bounce.kdl", PROJECT);
    project
}

/// The ids of the steps of a build with `status` that `which` picks, sorted.
fn step_ids(
    log: &BuildLog,
    status: &str,
    which: impl Fn(&serde_json::Value) -> bool,
) -> Vec<String> {
    let mut ids: Vec<String> = log
        .steps
        .iter()
        .filter(|s| s["status"] == status && which(s))
        .map(|s| s["step"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn report_json(project: &TestProject) -> serde_json::Value {
    let text = std::fs::read(project.path("out/1.0.0/report/report.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

#[test]
fn the_report_measures_every_delivered_file_and_checks_it() {
    let project = project();
    let output = project.run(&["report"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("4 files, 4 inspected now"), "{stderr}");
    let report = report_json(&project);
    assert_eq!(report["release"]["title"], "Report");
    let tracks = report["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 2);
    for track in tracks {
        let files = track["files"].as_array().unwrap();
        assert_eq!(files.len(), 2, "a WAV and an MP3 per track");
        for file in files {
            let integrated = file["integrated"].as_f64().unwrap();
            let true_peak = file["true_peak"].as_f64().unwrap();
            assert!((integrated + 16.0).abs() < 0.3, "{integrated} LUFS");
            assert!(true_peak <= -1.0, "{true_peak} dBTP");
            // A steady sine: its short-term curve is flat once filled.
            let short_term: Vec<f64> = file["series"]["short_term"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_f64())
                .collect();
            let settled = &short_term[30..short_term.len() - 2];
            let spread = settled.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                - settled.iter().cloned().fold(f64::INFINITY, f64::min);
            assert!(spread < 0.2, "short-term moves {spread} dB");
            assert_eq!(file["overs"]["on_sample"], 0);
        }
        let checks = track["checks"].as_array().unwrap();
        for name in [
            "loudness",
            "ceiling",
            "true-peak overs",
            "clipping",
            "dc offset",
            "silence",
            "mono",
            "dynamics",
        ] {
            assert!(checks.iter().any(|c| c["name"] == name), "no {name} check");
        }
        assert!(checks.iter().all(|c| c["status"] != "fail"), "{checks:?}");
    }
    // Track 2 is mono: correlation 1, nothing lost in a fold-down.
    let mono = &tracks[1]["files"][0];
    assert!((mono["correlation"]["mean"].as_f64().unwrap() - 1.0).abs() < 1e-6);
    assert!(mono["mono_loss"].as_f64().unwrap().abs() < 0.01);

    // Nothing changed: nothing is inspected again, and the report is the same.
    let before = std::fs::read(project.path("out/1.0.0/report/report.json")).unwrap();
    let output = project.run(&["report"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("4 files, 0 inspected now"), "{stderr}");
    let after = std::fs::read(project.path("out/1.0.0/report/report.json")).unwrap();
    assert!(before == after, "the report changed with nothing else");

    // A changed master re-inspects its files only.
    project.write("bounce.kdl", &PROJECT.replace("target=-16", "target=-18"));
    let output = project.run(&["report"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("4 files, 4 inspected now"), "{stderr}");
    let report = report_json(&project);
    let integrated = report["tracks"][0]["files"][0]["integrated"]
        .as_f64()
        .unwrap();
    assert!((integrated + 18.0).abs() < 0.3, "{integrated}");
}

/// The report's measurements are steps of the build: one `inspect` step
/// per delivered file, measuring its audio as encoded, and one `codec`
/// step per lossy file, comparing it with its lossless partner: built
/// once, cached after, not built again for a new title (tags change no
/// sample), and built again for the files whose audio changed (track 2's,
/// moved).
#[test]
fn the_reports_measurements_are_steps_of_the_build_keyed_by_each_file() {
    let project = project();
    // The WAV at the MP3's rate: its lossless partner.
    let with_report = format!(
        "{}deliverable \"qc\" {{ report; }}\n",
        PROJECT.replace("bits=24", "bits=24 rate=44100")
    );
    project.write("bounce.kdl", &with_report);
    let inspections =
        |log: &BuildLog, status: &str| step_ids(log, status, |s| s["kind"] == "inspect");
    let comparisons =
        |log: &BuildLog, status: &str| step_ids(log, status, |s| s["kind"] == "codec");
    let first = project.build_ok(&[]);
    // Each MP3 is inspected by its comparison, which decodes it once for
    // both.
    assert_eq!(
        inspections(&first, "built"),
        ["inspect:wav:1", "inspect:wav:2"]
    );
    assert_eq!(comparisons(&first, "built"), ["codec:mp3:1", "codec:mp3:2"]);
    let stderr = String::from_utf8_lossy(&first.output.stderr);
    assert!(stderr.contains("4 files, 4 inspected now"), "{stderr}");

    let again = project.build_ok(&[]);
    assert!(inspections(&again, "built").is_empty());
    assert_eq!(inspections(&again, "cached").len(), 2);
    assert_eq!(comparisons(&again, "cached").len(), 2);

    let retitled_text = with_report.replace("track 2 \"Other\"", "track 2 \"Renamed\"");
    project.write("bounce.kdl", &retitled_text);
    let retitled = project.build_ok(&[]);
    assert!(retitled.built().iter().any(|s| s.starts_with("tag:")));
    assert!(inspections(&retitled, "built").is_empty());
    let stderr = String::from_utf8_lossy(&retitled.output.stderr);
    assert!(stderr.contains("4 files, 0 inspected now"), "{stderr}");
    let report = report_json(&project);
    assert_eq!(report["tracks"][1]["title"], "Renamed");

    project.write(
        "bounce.kdl",
        &retitled_text.replace("\"stems/b.wav\"", "\"stems/b.wav\" offset=0.5"),
    );
    // `explain` lists the measurements that would run, and only those.
    let explained = project.run(&["explain"]);
    let said = String::from_utf8_lossy(&explained.stdout);
    for step in ["inspect:wav:2", "codec:mp3:2"] {
        assert!(said.contains(&format!("Stale {step}")), "{step}: {said}");
    }
    assert!(!said.contains("Stale inspect:wav:1"), "{said}");
    let moved = project.build_ok(&[]);
    assert_eq!(inspections(&moved, "built"), ["inspect:wav:2"]);
    assert_eq!(comparisons(&moved, "built"), ["codec:mp3:2"]);
    let stderr = String::from_utf8_lossy(&moved.output.stderr);
    assert!(stderr.contains("4 files, 2 inspected now"), "{stderr}");
    let report = report_json(&project);
    let head = report["tracks"][1]["files"][0]["head_silence"]
        .as_f64()
        .unwrap();
    assert!(
        (head - 0.5).abs() < 0.02,
        "the moved track starts {head} s in"
    );
}

#[test]
fn a_report_deliverable_writes_the_report_with_every_complete_build() {
    let project = project();
    project.write(
        "bounce.kdl",
        &format!("{PROJECT}\ndeliverable \"qc\" {{ report }}\n"),
    );
    let log = project.build_ok(&[]);
    assert!(log.rendered().len() > 4);
    let report = report_json(&project);
    assert_eq!(report["tracks"].as_array().unwrap().len(), 2);
    // Naming it builds everything and reports; a target of one file does not.
    std::fs::remove_dir_all(project.path("out/1.0.0/report")).unwrap();
    project.build_ok(&["wav:1"]);
    assert!(!project.path("out/1.0.0/report").exists());
    project.build_ok(&["qc"]);
    assert!(project.path("out/1.0.0/report/index.html").is_file());
    // A failed check fails the build, with its figures.
    project.write(
        "bounce.kdl",
        &format!(
            "{}\ndeliverable \"qc\" {{ report }}\n",
            PROJECT.replace(
                "track 1 \"Tone\" {",
                "track 1 \"Tone\" {\n    isrc \"GBXYZ2600001\""
            )
        ),
    );
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&log.output.stderr).contains("error: isrc"));
    // A report holds only `report`.
    project.write(
        "bounce.kdl",
        &format!("{PROJECT}\ndeliverable \"qc\" {{ report; format \"wav\" }}\n"),
    );
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("holds only `report`"));
}

/// A comparison's excerpt is a blob its step's cache entry names: a
/// build under a tiny cache cap and `cache gc` keep it, and one lost all
/// the same (evicted by a later build, deleted) makes that comparison
/// render again, where the report used to fail on it.
#[test]
fn a_comparisons_excerpt_outlives_cache_gc_and_renders_again_when_lost() {
    let project = codec_project(r#"deliverable "qc" { report; }"#);
    // A cap that evicts all it may: what the build used stays, the
    // excerpt the report copies included.
    project.build_ok(&["--cache-size", "1"]);
    let report = || {
        let text = std::fs::read(project.path("out/1/report/report.json")).unwrap();
        serde_json::from_slice::<serde_json::Value>(&text).unwrap()
    };
    let excerpt = |report: &serde_json::Value| {
        let files = report["tracks"][0]["files"].as_array().unwrap();
        let mp3 = files.iter().find(|f| f["deliverable"] == "mp3").unwrap();
        let relative = mp3["codec"]["audition"].as_str().unwrap().to_string();
        project.path(&format!("out/1/report/{relative}"))
    };
    let path = excerpt(&report());
    let heard = std::fs::read(&path).unwrap();
    assert!(heard.len() > 44, "the excerpt holds audio");
    let gc = project.run(&["cache", "gc"]);
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    std::fs::remove_dir_all(project.path("out/1/report")).unwrap();
    let again = project.build_ok(&[]);
    assert!(again.rendered().is_empty(), "{:?}", again.rendered());
    assert_eq!(std::fs::read(excerpt(&report())).unwrap(), heard);
    // The excerpt's blob lost: its comparison, and only it, renders again.
    let blobs = walk(&project.path(".bounce/blobs"));
    let blob = blobs
        .iter()
        .find(|b| std::fs::read(b).is_ok_and(|bytes| bytes == heard))
        .expect("the excerpt is a blob of the cache");
    std::fs::remove_file(blob).unwrap();
    std::fs::remove_dir_all(project.path("out/1/report")).unwrap();
    let again = project.build_ok(&[]);
    assert_eq!(step_ids(&again, "built", |_| true), ["codec:mp3:1"]);
    assert_eq!(std::fs::read(excerpt(&report())).unwrap(), heard);
}

/// One 44.1 kHz tone delivered as a 24-bit WAV and a 320 kbps MP3 of one
/// master (so the WAV is the MP3's lossless partner), and `more`.
fn codec_project(more: &str) -> TestProject {
    let project = TestProject::new();
    project.wav("stems/a.wav", 44100, 24, &sine(44100, 2, 997.0, 0.4, 8.0));
    project.write(
        "bounce.kdl",
        &format!(
            r#"
release "Codec" {{ artist "Tests"; version "1"; sample-rate 44100; }}
master "main" target=-16 ceiling=-1.0 {{ }}
track 1 "Tone" {{ stem "a" "stems/a.wav"; }}
deliverable "wav" {{ master "main"; format "wav" bits=24; }}
deliverable "mp3" {{ master "main"; format "mp3" bitrate=320; }}
{more}
"#
        ),
    );
    project
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_report_agrees_with_ffmpeg_on_the_demo() {
    if !tool_available("ffmpeg", "-version") {
        return;
    }
    let demo = demo_with_report();
    let report = report_json(&demo);
    let mut compared = 0;
    for track in report["tracks"].as_array().unwrap() {
        for file in track["files"].as_array().unwrap() {
            let path = demo.path(&format!("out/1.0.0/{}", file["path"].as_str().unwrap()));
            let (integrated, lra, peak) = ffmpeg_ebur128(&path);
            let ours = |k: &str| file[k].as_f64().unwrap();
            let name = file["path"].as_str().unwrap();
            assert!(
                (ours("integrated") - integrated).abs() <= 0.1,
                "{name}: I {} vs {integrated}",
                ours("integrated")
            );
            // LRA on 12-second tracks is a handful of short-term windows,
            // where meters differ; it is compared on EBU Tech 3342 below.
            let _ = lra;
            // The strict reading reads at least ffmpeg's 4× points, and not far more.
            let true_peak = ours("true_peak");
            assert!(
                true_peak >= peak - 0.1 && true_peak <= peak + 0.6,
                "{name}: {true_peak} vs {peak}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 12, "{compared} files");
    // The demo has a CD: the Red Book's limits are checked on its tracks.
    let red_book = report["album"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "red book")
        .expect("a red book check");
    assert_eq!(red_book["status"], "pass", "{red_book}");
    assert!(red_book["figures"]
        .as_str()
        .unwrap()
        .starts_with("3 tracks"));
}

/// References at any rate and format, loudness-matched: one identical to
/// the track shows no difference at all; one at 44.1 kHz, 6 dB louder,
/// shows its loudness and the same tone where the tone is.
#[test]
fn references_compare_loudness_matched_at_any_rate() {
    let project = TestProject::new();
    project.wav("stems/a.wav", 48000, 24, &sine(48000, 2, 1000.0, 0.25, 6.0));
    project.wav(
        "refs/loud.wav",
        44100,
        16,
        &sine(44100, 2, 1000.0, 0.5, 6.0),
    );
    project.write(
        "bounce.kdl",
        r#"release "Refs" { artist "A"; version "1"; }
reference "Same" "stems/a.wav"
master "flat" { }
track 1 "One" {
    stem "a" "stems/a.wav"
    reference "Louder" "refs/loud.wav"
}
deliverable "wav" { master "flat"; format "wav" bits=24; }
"#,
    );
    let output = project.run(&["report"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read(project.path("out/1/report/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let track = &report["tracks"][0];
    let references = track["references"].as_array().unwrap();
    assert_eq!(references.len(), 2);
    let same = references.iter().find(|r| r["name"] == "Same").unwrap();
    for key in ["spectrum_difference", "width_difference"] {
        for pair in same[key].as_array().unwrap() {
            let d = pair[1].as_f64().unwrap();
            assert!(d.abs() < 1e-9, "{key}: {pair}");
        }
    }
    let ours = track["files"][0]["integrated"].as_f64().unwrap();
    assert!((same["integrated"].as_f64().unwrap() - ours).abs() < 1e-9);
    let louder = references.iter().find(|r| r["name"] == "Louder").unwrap();
    assert!(
        (louder["integrated"].as_f64().unwrap() - ours - 6.02).abs() < 0.2,
        "{louder}"
    );
    let at_1k = louder["spectrum_difference"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == 1000.0)
        .unwrap()[1]
        .as_f64()
        .unwrap();
    assert!(
        at_1k.abs() < 0.5,
        "1 kHz octave differs by {at_1k} dB once loudness-matched"
    );
    let page = std::fs::read_to_string(project.path("out/1/report/index.html")).unwrap();
    assert!(page.contains("Against the references") && page.contains("Louder"));
}

/// EBU Tech 3342 case 1: a 1 kHz sine, 20 s at −20 dBFS then 20 s at
/// −30 dBFS, on both channels, has a loudness range of 10 LU (±1).
#[test]
fn the_loudness_range_is_that_of_ebu_tech_3342_and_ffmpeg() {
    let project = TestProject::new();
    let mut signal = sine(48000, 1, 1000.0, 0.1, 20.0);
    signal[0].extend(sine(48000, 1, 1000.0, 0.1 / 10f64.powf(0.5), 20.0).remove(0));
    let stereo = vec![signal[0].clone(), signal[0].clone()];
    project.wav("stems/case1.wav", 48000, 24, &stereo);
    project.write(
        "bounce.kdl",
        r#"release "3342" { artist "EBU"; version "1"; }
master "flat" { }
track 1 "Case 1" { stem "s" "stems/case1.wav" }
deliverable "wav" { master "flat"; format "wav" bits=24; }
"#,
    );
    let output = project.run(&["report"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read(project.path("out/1/report/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let file = &report["tracks"][0]["files"][0];
    let lra = file["lra"].as_f64().unwrap();
    assert!((lra - 10.0).abs() <= 1.0, "LRA {lra} LU");
    if tool_available("ffmpeg", "-version") {
        let path = project.path(&format!("out/1/{}", file["path"].as_str().unwrap()));
        let (_, theirs, _) = ffmpeg_ebur128(&path);
        assert!(
            (lra - theirs).abs() <= 0.5,
            "LRA {lra} against ffmpeg's {theirs}"
        );
    }
}

#[test]
fn a_failed_check_fails_the_report_with_its_figures() {
    let project = project();
    // One track of two with an ISRC: a release needs them on all or none.
    project.write(
        "bounce.kdl",
        &PROJECT.replace(
            "track 1 \"Tone\" {",
            "track 1 \"Tone\" {\n    isrc \"GBXYZ2600001\"",
        ),
    );
    let output = project.run(&["report"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: isrc: 1 of 2 tracks have an ISRC"),
        "{stderr}"
    );
    let report = report_json(&project);
    let isrc = report["album"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "isrc")
        .unwrap();
    assert_eq!(isrc["status"], "fail");
}

/// A PNG's pixel bytes, and the samples per pixel.
fn decode_png(path: &Path) -> (Vec<u8>, usize) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).unwrap();
    buffer.truncate(info.buffer_size());
    (buffer, info.color_type.samples())
}

/// The decoded screenshot: its pixels, and how many differ from the
/// page's background (the top-left pixel).
fn screenshot_ink(path: &Path) -> (usize, usize) {
    let (bytes, channels) = decode_png(path);
    let pixels: Vec<&[u8]> = bytes.chunks(channels).collect();
    let background = pixels[0];
    let ink = pixels.iter().filter(|p| p[..3] != background[..3]).count();
    (pixels.len(), ink)
}

fn chromium(args: &[&str]) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .output()
        .expect("chromium runs")
}

#[test]
fn the_page_renders_in_a_browser_in_both_schemes_and_fetches_nothing() {
    if !tool_available("chromium", "--version") {
        return;
    }
    // The demo release: its report is the one README shows.
    let demo = demo_with_report();
    let page = demo.path("out/1.0.0/report/index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: a policy that forbids every fetch, and nothing to fetch.
    assert!(html.contains("default-src 'none'"));
    for outside in [
        "http://", "https://", "src=", "<script", "@import", "url(", "<audio", "<img",
    ] {
        assert!(!html.contains(outside), "the page names {outside}");
    }
    // Its only links are to the codec excerpts beside it, which a click
    // opens: nothing is fetched as the page loads.
    for link in html.split("href=\"").skip(1) {
        assert!(
            link.starts_with("codec/"),
            "a link to {}",
            &link[..40.min(link.len())]
        );
    }
    assert!(
        html.contains("href=\"codec/01-promo.wav\""),
        "no excerpt link"
    );
    let url = format!("file://{}", page.display());
    let dom = chromium(&["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    for section in [
        r#"id="checklist""#,
        r#"id="album""#,
        r#"id="track-1""#,
        r#"id="track-3""#,
    ] {
        assert!(dom.contains(section), "the rendered page lacks {section}");
    }
    assert!(dom.matches("<svg").count() >= 3 * 6, "a track's six plots");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (scheme, flags) in [
        ("light", vec![]),
        (
            "dark",
            vec![
                "--force-dark-mode",
                "--blink-settings=preferredColorScheme=0",
            ],
        ),
    ] {
        let shot = shots.join(format!("report-{scheme}.png"));
        let _ = std::fs::remove_file(&shot);
        let mut args = flags.clone();
        let target = format!("--screenshot={}", shot.display());
        args.extend(["--window-size=1000,1800", &target, &url]);
        let output = chromium(&args);
        assert!(
            shot.is_file(),
            "no screenshot: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let (pixels, ink) = screenshot_ink(&shot);
        assert!(
            ink * 20 > pixels,
            "{scheme}: only {ink} of {pixels} pixels drawn"
        );
        // README's picture is the light one, made here on request.
        if scheme == "light" && std::env::var_os("BOUNCE_UPDATE_SCREENSHOT").is_some() {
            std::fs::copy(
                &shot,
                Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.png"),
            )
            .unwrap();
        }
    }
    // The dark page's background is dark, the light page's light.
    let background = |scheme: &str| {
        let (bytes, _) = decode_png(&shots.join(format!("report-{scheme}.png")));
        bytes[..3].iter().map(|b| *b as u32).sum::<u32>()
    };
    assert!(background("light") > 600 && background("dark") < 150);
}

/// A 320 kbps MP3 and a 24-bit WAV of one master at 44.1 kHz: the MP3's
/// codec preview is measured against the WAV, sample-aligned (a sample
/// off would read about 17 dB under a 1 kHz tone, not 60), and its excerpt
/// is the difference, raised by the gain the report states.
#[test]
fn the_codec_preview_measures_each_lossy_file_against_its_lossless_partner() {
    let project = codec_project(r#"deliverable "low" { master "main"; format "mp3" bitrate=96; }"#);
    let output = project.run(&["report"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read(project.path("out/1/report/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let files = report["tracks"][0]["files"].as_array().unwrap();
    let wav = files.iter().find(|f| f["deliverable"] == "wav").unwrap();
    assert!(
        wav.get("codec").is_none(),
        "a lossless file has no codec preview"
    );
    let level = |f: &serde_json::Value, name: &str| f["codec"][name].as_f64().unwrap();
    let mut under = Vec::new();
    for name in ["mp3", "low"] {
        let file = files.iter().find(|f| f["deliverable"] == name).unwrap();
        assert_eq!(file["codec"]["against"], wav["path"]);
        assert_eq!(file["codec"]["true_peak"], file["true_peak"]);
        let change = level(file, "loudness_change");
        let expected = file["integrated"].as_f64().unwrap() - wav["integrated"].as_f64().unwrap();
        assert!(
            (change - expected).abs() < 1e-9 && change.abs() < 0.15,
            "{name}: {change} LU"
        );
        let to_signal = level(file, "difference_to_signal");
        assert!(
            to_signal < -40.0,
            "{name}: the difference is {to_signal} dB under the music"
        );
        under.push(to_signal);
        // The excerpt is the difference at the stated gain: its RMS, less
        // that gain, is the difference's level (a steady tone: any ten
        // seconds hold the same).
        let excerpt = project.path(&format!(
            "out/1/report/{}",
            file["codec"]["audition"].as_str().unwrap()
        ));
        let mut reader = hound::WavReader::open(&excerpt).unwrap();
        let samples: Vec<f64> = reader
            .samples::<i16>()
            .map(|s| s.unwrap() as f64 / 32767.0)
            .collect();
        let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt();
        let heard = 20.0 * rms.log10() - level(file, "audition_gain_db");
        assert!(
            (heard - level(file, "difference_level")).abs() < 1.0,
            "{name}: excerpt {heard} dBFS, difference {} dBFS",
            level(file, "difference_level")
        );
    }
    // 96 kbps changes more than 320 kbps.
    assert!(under[1] > under[0] + 3.0, "{under:?}");
    let page = std::fs::read_to_string(project.path("out/1/report/index.html")).unwrap();
    assert!(page.contains("Codec preview"));
    assert!(page.contains("href=\"codec/01-low.wav\""));
}

/// `report { preview "mp3" … }` previews a master that has no lossy
/// deliverable: the track's lossless file is encoded for the report only
/// (nothing lossy is delivered), decoded and measured against it as a
/// delivered MP3 is. ffmpeg's LAME at the same settings reads the same
/// loudness and true peak; 96 kbps takes more away than 320; each preview
/// has a warning check on its overs; a lossless "preview" is refused.
#[test]
fn a_requested_codec_preview_encodes_a_lossless_master_for_the_report_only() {
    let project = TestProject::new();
    let rate = 44100;
    let music: Vec<Vec<f64>> = (0..2)
        .map(|channel| {
            (0..rate as usize * 8)
                .map(|i| {
                    let t = i as f64 / rate as f64;
                    let tone = 0.3 * (std::f64::consts::TAU * 997.0 * t).sin()
                        + 0.15
                            * (std::f64::consts::TAU * (5000.0 + 700.0 * channel as f64) * t).sin();
                    // A burst every half second: transients for the codec.
                    let burst = if (t * 2.0).fract() < 0.02 {
                        0.4 * (t * 9000.0).sin()
                    } else {
                        0.0
                    };
                    tone + burst
                })
                .collect()
        })
        .collect();
    project.wav("stems/a.wav", rate, 24, &music);
    let project_text = |preview: &str| {
        format!(
            r#"
release "Preview" {{ artist "Tests"; version "1"; sample-rate 44100; }}
master "main" target=-10 ceiling=-0.5 {{ }}
track 1 "Tone" {{ stem "a" "stems/a.wav"; }}
deliverable "wav" {{ master "main"; format "wav" bits=24; }}
deliverable "qc" {{ report {{ {preview} }} }}
"#
        )
    };
    project.write("bounce.kdl", &project_text(r#"preview "wav" bits=24"#));
    let refused = project.run(&["check"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bounce::bad-deliverable")
            && stderr.contains("a codec preview is of a lossy format"),
        "{stderr}"
    );

    project.write(
        "bounce.kdl",
        &project_text(r#"preview "mp3" bitrate=320; preview "mp3" bitrate=96;"#),
    );
    // Each preview is a step of the build (encoded, then compared and
    // inspected from one decoding), kept in the cache like any other.
    let previews_built = |log: &BuildLog, status: &str| {
        step_ids(log, status, |s| {
            s["step"].as_str().unwrap().contains("preview:")
        })
    };
    let first = project.build_ok(&[]);
    assert_eq!(
        previews_built(&first, "built"),
        [
            "codec:preview:mp3-320:wav:1",
            "codec:preview:mp3-96:wav:1",
            "preview:mp3-320:wav:1",
            "preview:mp3-96:wav:1"
        ]
    );
    let again = project.build_ok(&[]);
    assert!(previews_built(&again, "built").is_empty());
    assert_eq!(previews_built(&again, "cached").len(), 4);
    let text = std::fs::read(project.path("out/1/report/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let wav = &report["tracks"][0]["files"][0];
    let previews = wav["previews"].as_array().expect("the WAV's previews");
    assert_eq!(previews.len(), 2, "{wav}");
    let delivered: Vec<_> = std::fs::read_dir(project.path("out/1/wav"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        delivered.len(),
        1,
        "only the WAV is delivered: {delivered:?}"
    );
    let manifest = std::fs::read_to_string(project.path("out/1/manifest.json")).unwrap();
    assert!(!manifest.contains(".mp3"), "{manifest}");

    let figure = |p: &serde_json::Value, name: &str| p[name].as_f64().unwrap();
    let checks = report["tracks"][0]["checks"].as_array().unwrap();
    let mut under = Vec::new();
    for (preview, kbps) in previews.iter().zip(["320", "96"]) {
        let said = preview["preview"].as_str().unwrap();
        assert!(
            said.starts_with(&format!("MP3 {kbps} kbps")) && said.ends_with("(not delivered)"),
            "{said}"
        );
        assert_eq!(preview["against"], wav["path"]);
        under.push(figure(preview, "difference_to_signal"));
        let overs = preview["overs"]["inter_sample"].as_u64().unwrap()
            + preview["overs"]["on_sample"].as_u64().unwrap();
        let check = checks
            .iter()
            .find(|c| c["name"] == "codec preview" && c["figures"].as_str().unwrap().contains(said))
            .unwrap_or_else(|| panic!("no check for {said}: {checks:?}"));
        assert_eq!(
            check["status"],
            if overs == 0 { "pass" } else { "warn" },
            "{check}"
        );
        // The same encoding through ffmpeg's LAME at the same settings
        // (bounce searches at `-q 3` from 256 kbit/s, `-q 2` under).
        if tool_available("ffmpeg", "-version") {
            let reference = project.path(&format!("ffmpeg-{kbps}.mp3"));
            let search = if kbps == "320" { "3" } else { "2" };
            let status = std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-i"])
                .arg(project.path("out/1/wav/01 - Tone.wav"))
                .args(["-c:a", "libmp3lame", "-compression_level", search, "-b:a"])
                .arg(format!("{kbps}k"))
                .arg(&reference)
                .status()
                .unwrap();
            assert!(status.success());
            let (integrated, _, peak) = ffmpeg_ebur128(&reference);
            let ours = figure(wav, "integrated") + figure(preview, "loudness_change");
            assert!(
                (ours - integrated).abs() <= 0.1,
                "{kbps}: I {ours} vs {integrated}"
            );
            let true_peak = figure(preview, "true_peak");
            assert!(
                true_peak >= peak - 0.1 && true_peak <= peak + 0.6,
                "{kbps}: {true_peak} vs {peak}"
            );
        }
    }
    assert!(under[1] > under[0] + 3.0, "{under:?}");
    let page = std::fs::read_to_string(project.path("out/1/report/index.html")).unwrap();
    assert!(page.contains("MP3 96 kbps, 44.1 kHz (not delivered)"));
    assert!(page.contains("href=\"codec/01-preview-mp3-96.wav\""));
    assert!(project
        .path("out/1/report/codec/01-preview-mp3-96.wav")
        .is_file());

    // Only a 96 kHz file: no MP3 can be made of it, and the report says so.
    project.write(
        "bounce.kdl",
        &project_text(r#"preview "mp3" bitrate=320;"#).replace(
            r#"format "wav" bits=24;"#,
            r#"format "wav" bits=24 rate=96000;"#,
        ),
    );
    project.build(&[]);
    let text = std::fs::read(project.path("out/1/report/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let checks = report["tracks"][0]["checks"].as_array().unwrap();
    let missing = checks
        .iter()
        .find(|c| c["name"] == "codec preview")
        .unwrap_or_else(|| panic!("{checks:?}"));
    assert_eq!(missing["status"], "warn");
    assert!(
        missing["figures"]
            .as_str()
            .unwrap()
            .contains("no lossless file at 32000, 44100, 48000 Hz"),
        "{missing}"
    );
}

/// `checks` moves a threshold and makes a warning fail: a file with a DC
/// offset of about −40 dBFS warns by default (over −50), passes under
/// `dc-offset -30`, and fails the report (status 1, with its figures)
/// with `fail=#true`. The example in docs/language.md reads as written.
#[test]
fn checks_move_thresholds_and_make_warnings_fail() {
    let project = TestProject::new();
    let mut stem = sine(48000, 2, 440.0, 0.3, 4.0);
    for channel in &mut stem {
        for x in channel.iter_mut() {
            *x += 0.01;
        }
    }
    project.wav("stems/a.wav", 48000, 24, &stem);
    let with = |checks: &str| {
        format!(
            r#"
release "Checks" {{ artist "Tests"; version "1"; }}
master "main" {{ }}
track 1 "Offset" {{ stem "a" "stems/a.wav"; }}
deliverable "wav" {{ master "main"; format "wav" bits=24; }}
{checks}
"#
        )
    };
    let dc_check = |project: &TestProject| -> (Option<i32>, serde_json::Value) {
        let output = project.run(&["report"]);
        let report: serde_json::Value = serde_json::from_slice(
            &std::fs::read(project.path("out/1/report/report.json")).unwrap(),
        )
        .unwrap();
        let check = report["tracks"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "dc offset")
            .unwrap()
            .clone();
        (output.status.code(), check)
    };
    let mut check = serde_json::Value::Null;
    for (checks, want_status, want) in [
        ("", 0, "warn"),
        ("checks { dc-offset -30; }", 0, "pass"),
        ("checks { dc-offset fail=#true; }", 1, "fail"),
    ] {
        project.write("bounce.kdl", &with(checks));
        let (status, found) = dc_check(&project);
        assert_eq!(
            (status, &found["status"]),
            (Some(want_status), &want.into()),
            "{checks}: {found}"
        );
        check = found;
    }
    let figures = check["figures"].as_str().unwrap();
    assert!(figures.contains("fails over -50 dBFS"), "{figures}");
    // The reference's example, as written: its dc-offset line fails over
    // -40 dBFS, which this file's offset (-40.0 dBFS) is just under or at.
    let docs = include_str!("../docs/language.md");
    let example = docs
        .split("```kdl")
        .map(|block| block.split("```").next().unwrap())
        .find(|block| block.trim_start().starts_with("checks {"))
        .expect("a checks example in docs/language.md");
    project.write("bounce.kdl", &with(example));
    let (_, check) = dc_check(&project);
    let figures = check["figures"].as_str().unwrap();
    assert!(figures.contains("fails over -40 dBFS"), "{figures}");
}

/// A copy of the demo release, built with its report.
fn demo_with_report() -> TestProject {
    let demo = TestProject::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/demo");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".bounce" || name == "out" {
            continue;
        }
        copy_tree(&entry.path(), &demo.path(name.to_str().unwrap()));
    }
    let output = demo.run(&["report"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    demo
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}
