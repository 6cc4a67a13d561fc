//! A small builder for end-to-end tests: a project in a temporary folder,
//! stems synthesised into it, and the `bounce` binary run on it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub struct TestProject {
    dir: tempfile::TempDir,
}

/// What `bounce build --message-format json` printed.
pub struct BuildLog {
    pub steps: Vec<Value>,
    pub summary: Value,
    pub output: Output,
}

impl BuildLog {
    fn with_status(&self, status: &str) -> BTreeSet<String> {
        self.steps
            .iter()
            .filter(|s| s["status"] == status)
            .map(|s| s["step"].as_str().expect("step id").to_string())
            .collect()
    }
    pub fn built(&self) -> BTreeSet<String> {
        self.with_status("built")
    }
    pub fn cached(&self) -> BTreeSet<String> {
        self.with_status("cached")
    }
    /// Built steps other than sources (which read files, not render).
    pub fn rendered(&self) -> BTreeSet<String> {
        self.built()
            .into_iter()
            .filter(|s| !s.starts_with("source:"))
            .collect()
    }
    pub fn all(&self) -> BTreeSet<String> {
        self.steps
            .iter()
            .map(|s| s["step"].as_str().expect("step id").to_string())
            .collect()
    }
}

/// A sine, `seconds` long, of `freq` Hz at `peak` (0..1), on `channels`.
pub fn sine(rate: u32, channels: u16, freq: f64, peak: f64, seconds: f64) -> Vec<Vec<f64>> {
    let frames = (rate as f64 * seconds) as usize;
    let wave: Vec<f64> = (0..frames)
        .map(|i| peak * (std::f64::consts::TAU * freq * i as f64 / rate as f64).sin())
        .collect();
    vec![wave; channels as usize]
}

impl TestProject {
    pub fn new() -> Self {
        TestProject {
            dir: tempfile::Builder::new()
                .prefix("bounce-test")
                .tempdir()
                .expect("temp dir"),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, text: &str) -> &Self {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        self
    }

    /// Writes integer PCM WAV: `channels[c][i]` in -1..1.
    pub fn wav(&self, relative: &str, rate: u32, bits: u16, channels: &[Vec<f64>]) -> &Self {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let spec = hound::WavSpec {
            channels: channels.len() as u16,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&path, spec).expect("create wav");
        let scale = ((1i64 << (bits - 1)) - 1) as f64;
        for i in 0..channels[0].len() {
            for channel in channels {
                writer
                    .write_sample((channel[i] * scale).round() as i32)
                    .expect("write sample");
            }
        }
        writer.finalize().expect("finalize");
        self
    }

    /// Runs `bounce` in the project folder.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bounce"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("BOUNCE_CACHE")
            .env("NO_COLOR", "1")
            .output()
            .expect("run bounce")
    }

    /// Runs `bounce` with `args` for expectations to be asked of, in the
    /// order they read: `project.expect(&["check"]).status(0).warns(1, "…")`.
    pub fn expect(&self, args: &[&str]) -> Expect {
        Expect {
            args: args.join(" "),
            output: self.run(args),
        }
    }

    /// `bounce build --message-format json` with more arguments.
    pub fn build(&self, extra: &[&str]) -> BuildLog {
        let mut args = vec!["build", "--message-format", "json"];
        args.extend_from_slice(extra);
        let output = self.run(&args);
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let mut steps = Vec::new();
        let mut summary = Value::Null;
        for line in stdout.lines() {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if value["summary"] == true {
                summary = value;
            } else {
                steps.push(value);
            }
        }
        BuildLog {
            steps,
            summary,
            output,
        }
    }

    /// A build that must succeed.
    pub fn build_ok(&self, extra: &[&str]) -> BuildLog {
        let log = self.build(extra);
        assert!(
            log.output.status.success(),
            "build failed:\n{}",
            String::from_utf8_lossy(&log.output.stderr)
        );
        log
    }

    /// Reads a delivered WAV's samples as integers (planar).
    pub fn read_wav(&self, relative: &str) -> (hound::WavSpec, Vec<Vec<i32>>) {
        read_wav(&self.path(relative))
    }
}

pub fn read_wav(path: &Path) -> (hound::WavSpec, Vec<Vec<i32>>) {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    let mut channels = vec![Vec::new(); spec.channels as usize];
    if spec.sample_format == hound::SampleFormat::Float {
        for (i, s) in reader.samples::<f32>().enumerate() {
            channels[i % spec.channels as usize].push(s.expect("sample").to_bits() as i32);
        }
    } else {
        for (i, s) in reader.samples::<i32>().enumerate() {
            channels[i % spec.channels as usize].push(s.expect("sample"));
        }
    }
    (spec, channels)
}

/// Reads a delivered WAV as floats in -1..1 (planar).
pub fn read_wav_f64(path: &Path) -> (u32, Vec<Vec<f64>>) {
    let mut reader = hound::WavReader::open(path).expect("open wav");
    let spec = reader.spec();
    let mut channels = vec![Vec::new(); spec.channels as usize];
    if spec.sample_format == hound::SampleFormat::Float {
        for (i, s) in reader.samples::<f32>().enumerate() {
            channels[i % spec.channels as usize].push(s.expect("sample") as f64);
        }
    } else {
        let scale = (1i64 << (spec.bits_per_sample - 1)) as f64;
        for (i, s) in reader.samples::<i32>().enumerate() {
            channels[i % spec.channels as usize].push(s.expect("sample") as f64 / scale);
        }
    }
    (spec.sample_rate, channels)
}

/// RMS level in dBFS of a signal.
pub fn rms_db(signal: &[f64]) -> f64 {
    let power = signal.iter().map(|x| x * x).sum::<f64>() / signal.len() as f64;
    10.0 * power.log10()
}

/// Amplitude at `freq` by a Hann-windowed single-bin DFT.
pub fn amplitude_at(signal: &[f64], rate: u32, freq: f64) -> f64 {
    let n = signal.len();
    let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
    for (i, x) in signal.iter().enumerate() {
        let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos();
        let phase = std::f64::consts::TAU * freq * i as f64 / rate as f64;
        re += x * w * phase.cos();
        im += x * w * phase.sin();
        wsum += w;
    }
    2.0 * (re * re + im * im).sqrt() / wsum
}

/// A three-track project of WAV stems, for rebuild tests.
pub fn three_track_project() -> TestProject {
    let project = TestProject::new();
    for track in 1..=3 {
        let base = 100.0 * track as f64;
        project
            .wav(
                &format!("stems/{track}/kick.wav"),
                48000,
                24,
                &sine(48000, 1, base, 0.5, 1.0),
            )
            .wav(
                &format!("stems/{track}/snare.wav"),
                48000,
                16,
                &sine(48000, 1, base * 2.0, 0.3, 1.0),
            )
            .wav(
                &format!("stems/{track}/keys.wav"),
                44100,
                16,
                &sine(44100, 2, base * 3.0, 0.3, 1.2),
            );
    }
    project.write("bounce.kdl", THREE_TRACKS);
    project
}

pub const THREE_TRACKS: &str = r#"
release "Rebuilds" {
    artist "Tests"
    version "1.0.0"
}
master "main" {
    width 1.1
    loudness -18
}
track 1 "One" {
    stem "kick" "stems/1/kick.wav" gain=-3
    stem "snare" "stems/1/snare.wav" pan=0.2
    stem "keys" "stems/1/keys.wav"
    bus "drums" "kick" "snare"
}
track 2 "Two" {
    stem "kick" "stems/2/kick.wav" gain=-3
    stem "snare" "stems/2/snare.wav" pan=0.2
    stem "keys" "stems/2/keys.wav"
    bus "drums" "kick" "snare"
}
track 3 "Three" {
    stem "kick" "stems/3/kick.wav" gain=-3
    stem "snare" "stems/3/snare.wav" pan=0.2
    stem "keys" "stems/3/keys.wav"
    bus "drums" "kick" "snare"
}
deliverable "hi" {
    master "main"
    format "wav" bits=24
}
deliverable "lo" {
    master "main"
    format "wav" bits=16 rate=44100
}
"#;

/// Whether `tool` runs (`tool ARG` succeeds). CI installs every tool the
/// tests use, so there a missing one fails; elsewhere the test says
/// SKIPPED and passes.
pub fn tool_available(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI");
        eprintln!("SKIPPED: {tool} is not installed");
    }
    ok
}

/// ffmpeg decodes `file` to PCM of `bits`; its samples must match the WAV
/// `reference` within `lsb` (two deliverables of one master differ only
/// in their dither).
pub fn assert_ffmpeg_nulls(
    project: &TestProject,
    file: &str,
    reference: &str,
    bits: u16,
    lsb: i32,
) {
    let codec = if bits == 16 { "pcm_s16le" } else { "pcm_s24le" };
    let decoded = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(project.path(file))
        .args(["-c:a", codec, "-y"])
        .arg(project.path("decoded-by-ffmpeg.wav"))
        .status()
        .unwrap();
    assert!(decoded.success(), "ffmpeg cannot decode {file}");
    let (_, got) = project.read_wav("decoded-by-ffmpeg.wav");
    let (_, want) = project.read_wav(reference);
    assert_eq!(got[0].len(), want[0].len(), "{file}: length");
    for channel in 0..2 {
        let worst = got[channel]
            .iter()
            .zip(&want[channel])
            .map(|(a, w)| (a - w).abs())
            .max()
            .unwrap();
        assert!(
            worst <= lsb,
            "{file} channel {channel}: samples differ by {worst} LSB"
        );
    }
}

/// The cached file a step of `log` produced.
pub fn blob_of(project: &TestProject, log: &BuildLog, step: &str) -> PathBuf {
    let event = log
        .steps
        .iter()
        .find(|s| s["step"] == step)
        .unwrap_or_else(|| panic!("no step {step}"));
    let key = event["key"].as_str().unwrap();
    let entry: Value = serde_json::from_slice(
        &std::fs::read(project.path(&format!(".bounce/actions/{}/{key}.json", &key[..2]))).unwrap(),
    )
    .unwrap();
    let blob = entry["output"].as_str().unwrap();
    project.path(&format!(".bounce/blobs/{}/{blob}", &blob[..2]))
}

/// ffmpeg's `ebur128=peak=true` summary of a file: I (LUFS), LRA (LU) and
/// its 4× true peak (dBFS), as ffmpeg prints them (one decimal).
pub fn ffmpeg_ebur128(path: &Path) -> (f64, f64, f64) {
    let output = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-filter_complex", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    let summary = &log[log.rfind("Summary:").expect("an ebur128 summary")..];
    let value = |label: &str| -> f64 {
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in {summary}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (value("I:"), value("LRA:"), value("Peak:"))
}

/// ffmpeg's short-term loudness (ebur128, 3 s) every 100 ms: (time, LUFS).
pub fn ffmpeg_short_term(path: &Path) -> Vec<(f64, f64)> {
    let output = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args([
            "-af",
            "ebur128=metadata=1,ametadata=mode=print:key=lavfi.r128.S",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    let mut readings = Vec::new();
    let mut time = None;
    for line in log.lines() {
        if let Some(at) = line.split("pts_time:").nth(1) {
            time = at
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok());
        } else if let Some(value) = line.split("lavfi.r128.S=").nth(1) {
            if let (Some(t), Ok(v)) = (time, value.trim().parse::<f64>()) {
                readings.push((t, v));
            }
        }
    }
    assert!(!readings.is_empty(), "no short-term readings from ffmpeg");
    readings
}

/// Whether Python has `module` (feedparser, an independent reader of
/// feeds); CI installs it, so there a missing one fails.
pub fn python_module_available(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{module} is required in CI"
        );
        eprintln!("SKIPPED: {module} is not installed");
    }
    ok
}

/// What a run of `bounce` must have done; each method panics with the
/// run's arguments and its stderr when it did not.
pub struct Expect {
    args: String,
    pub output: Output,
}

impl Expect {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Exited with `code`.
    pub fn status(self, code: i32) -> Self {
        assert_eq!(
            self.output.status.code(),
            Some(code),
            "bounce {}:\n{}",
            self.args,
            self.stderr()
        );
        self
    }

    /// Printed exactly `count` warning lines holding `text`.
    pub fn warns(self, count: usize, text: &str) -> Self {
        let stderr = self.stderr();
        let found = stderr
            .lines()
            .filter(|l| l.starts_with("warning:") && l.contains(text))
            .count();
        assert_eq!(
            found, count,
            "bounce {}: warnings of \"{text}\":\n{stderr}",
            self.args
        );
        self
    }

    /// Its stderr holds `text`.
    pub fn stderr_has(self, text: &str) -> Self {
        let stderr = self.stderr();
        assert!(
            stderr.contains(text),
            "bounce {}: no \"{text}\" in:\n{stderr}",
            self.args
        );
        self
    }
}
