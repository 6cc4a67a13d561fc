//! The speech processors on real speech (espeak-ng's), built through
//! projects and measured here, apart from bounce: each test renders a
//! clean voice, the voice as recorded (noise or sibilance planted) and
//! the recording through the processor, and compares the last two where
//! the clean voice says what is there (a pause, a word's onset, a
//! sibilant, a vowel).

mod common;

use std::process::Command;

use common::*;
use realfft::RealFftPlanner;

const RATE: u32 = 48000;
/// Frames in the 10 ms frames the masks and levels are read over.
const FRAME: usize = 480;

/// Lines of speech from espeak-ng in `voice`, each followed by `pause`
/// seconds of digital silence, at espeak's rate; `None` (SKIPPED) where
/// espeak-ng is missing outside CI.
fn speech(voice: &str, lines: &[&str], pause: f64) -> Option<(u32, Vec<f64>)> {
    if !tool_available("espeak-ng", "--version") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rate = 0;
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            // Each line follows a pause, the first one too.
            out.extend(vec![0.0; (pause * 22050.0) as usize]);
        }
        let path = dir.path().join(format!("{i}.wav"));
        let status = Command::new("espeak-ng")
            .args(["-v", voice, "-s", "160", "-w"])
            .arg(&path)
            .arg(line)
            .status()
            .unwrap();
        assert!(status.success(), "espeak-ng failed");
        let (r, channels) = read_wav_f64(&path);
        rate = r;
        out.extend(&channels[0]);
        out.extend(vec![0.0; (pause * r as f64) as usize]);
    }
    Some((rate, out))
}

/// `signal` scaled so that its peak is `db` dBFS.
fn peak_at(signal: &[f64], db: f64) -> Vec<f64> {
    let peak = signal.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let scale = 10f64.powf(db / 20.0) / peak;
    signal.iter().map(|x| x * scale).collect()
}

/// White noise at `db` dBFS RMS, the same every run.
fn noise(frames: usize, db: f64) -> Vec<f64> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    // Uniform noise in ±a has an RMS of a / √3.
    let peak = 10f64.powf(db / 20.0) * 3f64.sqrt();
    (0..frames)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * peak
        })
        .collect()
}

fn plus(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// Builds a project of three tracks from `clean` and `recorded` (mono,
/// at `rate`): the clean voice, the recording, and the recording through
/// `chain`; returns their left channels as delivered (32-bit float, no
/// mastering), in that order.
fn render(rate: u32, clean: &[f64], recorded: &[f64], chain: &str) -> [Vec<f64>; 3] {
    let project = TestProject::new();
    project.wav("clean.wav", rate, 24, &[clean.to_vec()]);
    project.wav("recorded.wav", rate, 24, &[recorded.to_vec()]);
    project.write(
        "bounce.kdl",
        &format!(
            r#"release "Speech" {{
    version "1"
}}
master "raw" {{ }}
track 1 "clean" {{ stem "voice" "clean.wav"; }}
track 2 "recorded" {{ stem "voice" "recorded.wav"; }}
track 3 "processed" {{
    stem "voice" "recorded.wav" {{
        {chain}
    }}
}}
deliverable "f" {{
    master "raw"
    format "wav" bits=32 float=#true
}}
"#
        ),
    );
    project.build_ok(&[]);
    ["01 - clean", "02 - recorded", "03 - processed"].map(|name| {
        let (got_rate, channels) = read_wav_f64(&project.path(&format!("out/1/f/{name}.wav")));
        assert_eq!(got_rate, RATE);
        channels.into_iter().next().unwrap()
    })
}

/// The mean square of each 10 ms frame, dB.
fn frame_levels(signal: &[f64]) -> Vec<f64> {
    signal
        .chunks_exact(FRAME)
        .map(|f| {
            10.0 * (f.iter().map(|x| x * x).sum::<f64>() / FRAME as f64)
                .max(1e-30)
                .log10()
        })
        .collect()
}

/// The energy (dB) of the frames `frames` of `signal`, together.
fn energy_db(signal: &[f64], frames: &[usize]) -> f64 {
    let energy: f64 = frames
        .iter()
        .flat_map(|&f| &signal[f * FRAME..(f + 1) * FRAME])
        .map(|x| x * x)
        .sum();
    10.0 * energy.log10()
}

/// Which 10 ms frames are pauses: the clean voice silent there, for at
/// least `after` frames since it last spoke and `before` frames before
/// it speaks again.
fn pauses(clean: &[f64], after: usize, before: usize) -> Vec<usize> {
    let levels = frame_levels(clean);
    let silent: Vec<bool> = levels.iter().map(|&l| l < -90.0).collect();
    (0..silent.len())
        .filter(|&f| {
            let from = f.saturating_sub(after);
            let to = (f + before).min(silent.len() - 1);
            silent[from..=to].iter().all(|&s| s)
        })
        .collect()
}

#[test]
fn the_gate_lowers_pauses_by_its_range_and_keeps_words_onsets() {
    let Some((rate, voice)) = speech(
        "en-us",
        &[
            "Welcome back to the show.",
            "Today we talk about rooms, microphones and the noise between words.",
            "Quiet rooms make quiet pauses.",
        ],
        1.0,
    ) else {
        return;
    };
    let clean = peak_at(&voice, -6.0);
    let recorded = plus(&clean, &noise(clean.len(), -60.0));
    let [clean, recorded, gated] = render(
        rate,
        &clean,
        &recorded,
        "gate threshold=-45 range=-20 hold=100 release=150",
    );
    // Pauses: 400 ms after a word (past the hold and the release) to
    // 20 ms before the next (before the lookahead opens it).
    let pause_frames = pauses(&clean, 40, 2);
    assert!(
        pause_frames.len() > 100,
        "{} pause frames",
        pause_frames.len()
    );
    let drop = energy_db(&recorded, &pause_frames) - energy_db(&gated, &pause_frames);
    eprintln!(
        "gate: {} pause frames fell {drop:.2} dB",
        pause_frames.len()
    );
    assert!(
        drop >= 20.0 - 0.05,
        "the pauses fell {drop:.2} dB, the range is 20"
    );

    // Onsets: the first 10 ms frame over −40 dBFS after 300 ms of silence.
    let levels = frame_levels(&clean);
    let onsets: Vec<usize> = (30..levels.len())
        .filter(|&f| levels[f] > -40.0 && levels[f - 30..f].iter().all(|&l| l < -40.0))
        .collect();
    assert!(onsets.len() >= 3, "{} onsets", onsets.len());
    for onset in onsets {
        let change = energy_db(&gated, &[onset]) - energy_db(&recorded, &[onset]);
        eprintln!("gate: onset at frame {onset} changed {change:.3} dB");
        assert!(
            change.abs() < 1.0,
            "the onset at {:.2} s changed by {change:.2} dB",
            (onset * FRAME) as f64 / RATE as f64
        );
    }
}

/// Each 20 ms frame's energy in `low..high` Hz and over all, dB.
fn band_levels(signal: &[f64], low: f64, high: f64) -> Vec<(f64, f64)> {
    let size = 960;
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(size);
    let bin = |f: f64| (f * size as f64 / RATE as f64).round() as usize;
    signal
        .chunks_exact(size)
        .map(|chunk| {
            let mut frame = chunk.to_vec();
            let mut spectrum = fft.make_output_vec();
            fft.process(&mut frame, &mut spectrum).unwrap();
            let energy = |range: std::ops::RangeInclusive<usize>| {
                let e: f64 = spectrum[range].iter().map(|x| x.norm_sqr()).sum();
                10.0 * e.max(1e-30).log10()
            };
            (energy(bin(low)..=bin(high)), energy(0..=size / 2))
        })
        .collect()
}

/// The sum of the frames' energies in dB, as one energy in dB.
fn total_db(levels: impl Iterator<Item = f64>) -> f64 {
    10.0 * levels.map(|l| 10f64.powf(l / 10.0)).sum::<f64>().log10()
}

/// A peaking EQ (RBJ cookbook) over `signal`: the planted sibilance.
fn bell(signal: &[f64], rate: u32, freq: f64, gain_db: f64, q: f64) -> Vec<f64> {
    let a = 10f64.powf(gain_db / 40.0);
    let w0 = std::f64::consts::TAU * freq / rate as f64;
    let alpha = w0.sin() / (2.0 * q);
    let (b0, b1, b2) = (1.0 + alpha * a, -2.0 * w0.cos(), 1.0 - alpha * a);
    let (a0, a1, a2) = (1.0 + alpha / a, -2.0 * w0.cos(), 1.0 - alpha / a);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    signal
        .iter()
        .map(|&x| {
            let y = (b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
            (x2, x1, y2, y1) = (x1, x, y1, y);
            y
        })
        .collect()
}

#[test]
fn the_de_esser_lowers_sibilants_by_its_amount_and_leaves_vowels() {
    let Some((rate, voice)) = speech(
        "en-gb+f3",
        &[
            "She sells sea shells by the sea shore.",
            "Sixty six sisters sang softly in the sunshine.",
            "Oh, how low and slow the old moon goes.",
        ],
        0.5,
    ) else {
        return;
    };
    let clean = peak_at(&voice, -6.0);
    let sibilant = peak_at(&bell(&clean, rate, 7000.0, 9.0, 0.8), -6.0);
    let (threshold, reduction) = (-46.0, 6.0);
    let [_, recorded, de_essed] = render(
        rate,
        &clean,
        &sibilant,
        &format!("de-ess threshold={threshold} reduction={reduction}"),
    );
    let before = band_levels(&recorded, 5000.0, 9000.0);
    let after = band_levels(&de_essed, 5000.0, 9000.0);
    // A 20 ms frame's band energy to its mean square in dBFS: 10·log10
    // of 2·Σ|X|² / N² (Parseval, one-sided bins counted twice).
    let to_dbfs = 10.0 * (2.0 / (960.0f64 * 960.0)).log10();
    let hot = |i: usize| {
        (i.saturating_sub(1)..=(i + 1).min(before.len() - 1))
            .all(|j| before[j].0 + to_dbfs > threshold + reduction + 6.0)
    };
    let sibilants: Vec<usize> = (0..before.len()).filter(|&i| hot(i)).collect();
    assert!(sibilants.len() >= 5, "{} sibilant frames", sibilants.len());
    let change = total_db(sibilants.iter().map(|&i| after[i].0))
        - total_db(sibilants.iter().map(|&i| before[i].0));
    eprintln!(
        "de-ess: {} sibilant frames, their band {change:.2} dB",
        sibilants.len()
    );
    assert!(
        (change + reduction).abs() < 1.0,
        "sibilants' 5–9 kHz band changed by {change:.2} dB"
    );
    // Vowels: voiced frames whose band stays well under the threshold.
    let quiet = |i: usize| {
        (i.saturating_sub(3)..=(i + 3).min(before.len() - 1))
            .all(|j| before[j].0 + to_dbfs < threshold - 6.0)
    };
    let vowels: Vec<usize> = (0..before.len())
        .filter(|&i| before[i].1 + to_dbfs > -30.0 && quiet(i))
        .collect();
    assert!(vowels.len() >= 10, "{} vowel frames", vowels.len());
    for band in [false, true] {
        let pick = |levels: &[(f64, f64)], i: usize| if band { levels[i].0 } else { levels[i].1 };
        let change = total_db(vowels.iter().map(|&i| pick(&after, i)))
            - total_db(vowels.iter().map(|&i| pick(&before, i)));
        eprintln!(
            "de-ess: {} vowel frames, {change:.3} dB (band only: {band})",
            vowels.len()
        );
        assert!(
            change.abs() < 0.5,
            "vowels changed by {change:.2} dB (band: {band})"
        );
    }
}

#[test]
fn the_denoiser_lowers_a_noise_floor_and_keeps_the_voice() {
    let Some((rate, voice)) = speech(
        "en-us",
        &[
            "The hum of the fridge is gone.",
            "What stays is the voice, as it was spoken.",
        ],
        0.8,
    ) else {
        return;
    };
    // A second of room before the first word, for the profile.
    let mut clean = vec![0.0; rate as usize];
    clean.extend(peak_at(&voice, -6.0));
    let recorded = plus(&clean, &noise(clean.len(), -50.0));
    let [clean, recorded, denoised] = render(
        rate,
        &clean,
        &recorded,
        "denoise profile=\"0:00.1-0:00.9\" amount=15",
    );
    let pause_frames = pauses(&clean, 10, 5);
    let drop = energy_db(&recorded, &pause_frames) - energy_db(&denoised, &pause_frames);
    eprintln!(
        "denoise: {} pause frames fell {drop:.2} dB",
        pause_frames.len()
    );
    assert!(drop >= 10.0, "the noise floor fell {drop:.2} dB");
    assert!(
        drop <= 15.5,
        "the noise floor fell {drop:.2} dB, more than the amount"
    );
    // The voice: its frames over −35 dBFS, in the speech band.
    let levels = frame_levels(&clean);
    let spoken: Vec<usize> = (0..levels.len()).filter(|&f| levels[f] > -35.0).collect();
    assert!(spoken.len() > 50);
    let change = energy_db(&denoised, &spoken) - energy_db(&clean, &spoken);
    eprintln!(
        "denoise: {} spoken frames changed {change:.3} dB",
        spoken.len()
    );
    assert!(change.abs() < 1.0, "the voice changed by {change:.2} dB");
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
fn the_leveller_brings_host_and_guest_within_a_lu() {
    let host_lines = [
        "Hello and welcome. This week we are talking about the long road from a recording to a release, and why it takes so long.",
        "That is a good point, and it brings me to the question everybody asks about loudness and streaming services.",
    ];
    let guest_lines = [
        "Thank you for having me. I have spent twenty years in small studios, and most of that time was spent waiting for renders.",
        "Well, the short answer is that every service turns the music down to its own level, so louder is not better any more.",
    ];
    let Some((rate, _)) = speech("en-us", &["a"], 0.0) else {
        return;
    };
    if !tool_available("ffmpeg", "-version") {
        return;
    }
    let line = |voice: &str, text: &str| speech(voice, &[text], 0.0).unwrap().1;
    // Host at −6 dBFS peak; the guest 12 dB quieter, and a further 6 dB
    // quieter in their second answer (leaning away from the microphone).
    let gap = vec![0.0; rate as usize / 2];
    let (mut host, mut guest) = (gap.clone(), gap.clone());
    let mut turns = Vec::new();
    for i in 0..2 {
        for (speaker, voice, level) in [(0, "en-us", -6.0), (1, "en-gb+f3", -18.0 - 6.0 * i as f64)]
        {
            let spoken = peak_at(
                &line(
                    voice,
                    if speaker == 0 {
                        host_lines[i]
                    } else {
                        guest_lines[i]
                    },
                ),
                level,
            );
            let start = host.len() as f64 / rate as f64;
            let (talking, listening) = if speaker == 0 {
                (&mut host, &mut guest)
            } else {
                (&mut guest, &mut host)
            };
            talking.extend(&spoken);
            listening.extend(vec![0.0; spoken.len()]);
            host.extend(&gap);
            guest.extend(&gap);
            turns.push((speaker, start, start + spoken.len() as f64 / rate as f64));
        }
    }
    let project = TestProject::new();
    project.wav("host.wav", rate, 24, &[host]);
    project.wav("guest.wav", rate, 24, &[guest]);
    project.write(
        "bounce.kdl",
        r#"release "Levels" {
    version "1"
}
master "raw" { }
track 1 "as recorded" {
    stem "host" "host.wav"
    stem "guest" "guest.wav"
}
track 2 "levelled" {
    stem "host" "host.wav" { level -18 max-gain=24; }
    stem "guest" "guest.wav" { level -18 max-gain=24; }
}
deliverable "f" {
    master "raw"
    format "wav" bits=32 float=#true
}
"#,
    );
    project.build_ok(&[]);
    // Each turn's median short-term loudness, over the readings whose
    // whole 3 s window lies in the turn.
    let per_turn = |name: &str| -> Vec<f64> {
        let readings = ffmpeg_short_term(&project.path(&format!("out/1/f/{name}.wav")));
        turns
            .iter()
            .map(|&(_, from, to)| {
                let inside: Vec<f64> = readings
                    .iter()
                    .filter(|(t, _)| t - 3.0 >= from && *t <= to)
                    .map(|&(_, v)| v)
                    .collect();
                assert!(inside.len() > 10, "{name}: {} readings", inside.len());
                median(inside)
            })
            .collect()
    };
    let spread = |levels: &[f64]| {
        levels.iter().copied().fold(f64::MIN, f64::max)
            - levels.iter().copied().fold(f64::MAX, f64::min)
    };
    let raw = per_turn("01 - as recorded");
    let levelled = per_turn("02 - levelled");
    eprintln!("level: turns (host, guest, host, guest) as recorded {raw:.1?}, levelled {levelled:.1?} LUFS");
    assert!(spread(&raw) > 15.0, "the voices start apart: {raw:?}");
    assert!(
        spread(&levelled) < 1.0,
        "the turns after level: {levelled:?}"
    );
}

#[test]
fn the_bed_ducks_by_its_depth_under_a_voice() {
    duck_test("stem \"bed\" \"bed.wav\" {\n        duck \"voice\" depth=-12 threshold=-45 attack=100 release=600\n    }", "bed");
}

#[test]
fn a_bus_of_music_ducks_under_a_voice() {
    duck_test(
        "stem \"bed\" \"bed.wav\"\n    bus \"music\" \"bed\" {\n        duck \"voice\" depth=-12 threshold=-45 attack=100 release=600\n    }",
        "music",
    );
}

/// A bed (`bed.wav`, a steady tone) ducked under a voice by `bed`, a
/// stem or a bus of it; `ducked` names what is measured.
fn duck_test(bed: &str, ducked: &str) {
    let Some((rate, voice)) = speech(
        "en-us",
        &[
            "Music comes up between the words.",
            "And goes back down when I speak again.",
        ],
        1.5,
    ) else {
        return;
    };
    let voice = peak_at(&voice, -6.0);
    let seconds = voice.len() as f64 / rate as f64;
    let project = TestProject::new();
    project.wav("voice.wav", rate, 24, &[voice]);
    project.wav("bed.wav", 48000, 24, &sine(48000, 2, 220.0, 0.1, seconds));
    project.write(
        "bounce.kdl",
        &r#"release "Duck" {
    version "1"
}
master "raw" { }
track 1 "T" {
    stem "voice" "voice.wav"
    BED
}
deliverable "s" {
    stems "DUCKED" "voice"
    format "wav" bits=32 float=#true
}
"#
        .replace("BED", bed)
        .replace("DUCKED", ducked),
    );
    project.build_ok(&[]);
    let read = |name: &str| {
        read_wav_f64(&project.path(&format!("out/1/s/01 - T - {name}.wav")))
            .1
            .remove(0)
    };
    let (bed, voice) = (read(ducked), read("voice"));
    let dry = 20.0 * (0.1f64 / 2f64.sqrt()).log10();
    let levels = frame_levels(&bed);
    let speaking = frame_levels(&voice);
    let sounding: Vec<bool> = speaking.iter().map(|&l| l > -60.0).collect();
    let near = |f: usize, before: usize, after: usize| {
        sounding[f.saturating_sub(before)..=(f + after).min(sounding.len() - 1)]
            .iter()
            .any(|&s| s)
    };
    // While a voice speaks (and has for 200 ms, past the attack), and in
    // pauses 1.2 s after it (past the release) and 200 ms before it.
    let under: Vec<f64> = (20..levels.len())
        .filter(|&f| sounding[f] && sounding[f - 20..f].iter().filter(|s| **s).count() > 15)
        .map(|f| levels[f] - dry)
        .collect();
    let clear: Vec<f64> = (0..levels.len())
        .filter(|&f| !near(f, 120, 20))
        .map(|f| levels[f] - dry)
        .collect();
    assert!(
        under.len() > 50 && clear.len() > 20,
        "{} and {} frames",
        under.len(),
        clear.len()
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    eprintln!(
        "duck: under the voice {:.2} dB, in pauses {:.2} dB",
        mean(&under),
        mean(&clear)
    );
    assert!(
        (mean(&under) + 12.0).abs() < 0.5,
        "ducked by {:.2} dB",
        mean(&under)
    );
    assert!(
        mean(&clear).abs() < 0.2,
        "{:.2} dB in the pauses",
        mean(&clear)
    );
}
