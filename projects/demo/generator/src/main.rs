//! Writes the demo project's stems: three short tracks of drums, bass,
//! chords and a lead, synthesised from fixed seeds so every run writes the
//! same bytes. Run from the repository root:
//!
//! ```text
//! cargo run --release -p demo-generator -- projects/demo/stems
//! ```
//!
//! `demo-generator album DIR [TRACKS] [SECONDS]` writes a larger project of
//! the same material for benchmarks, and `demo-generator mastering-album
//! DIR [TRACKS] [SECONDS]` one with full mixing and mastering chains and an
//! ffmpeg script doing the same work.
//!
//! The stems cover what a real session has: mono and stereo, 16- and 24-bit,
//! WAV and FLAC, 48 kHz and one at 44.1 kHz.

use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

use flacenc::component::BitRepr;
use flacenc::error::Verify;

const BPM: f64 = 120.0;
const BEAT: f64 = 60.0 / BPM;
const BAR: f64 = 4.0 * BEAT;

/// A small deterministic noise source (64-bit LCG, top bits).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// A rendered stem: one or two channels at a rate.
struct Stem {
    rate: u32,
    channels: Vec<Vec<f64>>,
}

impl Stem {
    fn new(rate: u32, channels: usize, seconds: f64) -> Self {
        let frames = (seconds * rate as f64) as usize;
        Stem {
            rate,
            channels: vec![vec![0.0; frames]; channels],
        }
    }
    fn frames(&self) -> usize {
        self.channels[0].len()
    }
    fn time(&self, i: usize) -> f64 {
        i as f64 / self.rate as f64
    }
    /// Adds `f(t since onset)` for `length` seconds at `onset`, scaled per channel.
    fn add(&mut self, onset: f64, length: f64, gains: &[f64], mut f: impl FnMut(f64) -> f64) {
        let start = (onset * self.rate as f64) as usize;
        let end = ((onset + length) * self.rate as f64) as usize;
        for i in start..end.min(self.frames()) {
            let value = f(self.time(i) - onset);
            for (channel, gain) in self.channels.iter_mut().zip(gains) {
                channel[i] += value * gain;
            }
        }
    }
}

fn midi_hz(note: f64) -> f64 {
    440.0 * 2f64.powf((note - 69.0) / 12.0)
}

/// A band-limited sawtooth of a few harmonics.
fn saw(phase: f64, harmonics: usize) -> f64 {
    (1..=harmonics)
        .map(|k| (phase * k as f64).sin() / k as f64)
        .sum::<f64>()
        * 0.6
}

/// A band-limited square (odd harmonics).
fn square(phase: f64, harmonics: usize) -> f64 {
    (0..harmonics)
        .map(|k| {
            let n = (2 * k + 1) as f64;
            (phase * n).sin() / n
        })
        .sum::<f64>()
        * 0.8
}

fn kick(stem: &mut Stem, bars: usize, pattern: &[f64]) {
    for bar in 0..bars {
        for beat in pattern {
            let onset = bar as f64 * BAR + beat * BEAT;
            stem.add(onset, 0.45, &[0.9, 0.9], |t| {
                // Pitch falls from 150 to 45 Hz; phase is the integral.
                let phase = TAU * (45.0 * t + 105.0 * 0.04 * (1.0 - (-t / 0.04).exp()));
                phase.sin() * (-t / 0.16).exp()
            });
        }
    }
}

fn snare(stem: &mut Stem, bars: usize, seed: u64) {
    let mut noise = Noise(seed);
    let mut last = 0.0;
    for bar in 0..bars {
        for beat in [1.0, 3.0] {
            let onset = bar as f64 * BAR + beat * BEAT;
            stem.add(onset, 0.3, &[0.6, 0.6], |t| {
                let n = noise.next();
                let bright = n - last; // first difference: a gentle high-pass
                last = n;
                0.5 * bright * (-t / 0.07).exp() + 0.5 * (TAU * 190.0 * t).sin() * (-t / 0.05).exp()
            });
        }
    }
}

fn hats(stem: &mut Stem, bars: usize, seed: u64) {
    let mut noise = Noise(seed);
    let mut last = 0.0;
    for step in 0..bars * 8 {
        let onset = step as f64 * BEAT / 2.0;
        let accent = if step % 2 == 0 { 0.35 } else { 0.2 };
        stem.add(onset, 0.08, &[accent, accent], |t| {
            let n = noise.next();
            let bright = n - last;
            last = n;
            bright * (-t / 0.018).exp()
        });
    }
}

/// Roots of A minor – F – C – G, as MIDI notes.
const ROOTS: [f64; 4] = [45.0, 41.0, 48.0, 43.0];
const TRIADS: [[f64; 3]; 4] = [
    [57.0, 60.0, 64.0],
    [53.0, 57.0, 60.0],
    [55.0, 60.0, 64.0],
    [55.0, 59.0, 62.0],
];

fn bass(stem: &mut Stem, bars: usize) {
    for bar in 0..bars {
        let root = ROOTS[bar % 4];
        for eighth in 0..8 {
            let note = if eighth == 6 { root + 7.0 } else { root };
            let freq = midi_hz(note);
            let onset = bar as f64 * BAR + eighth as f64 * BEAT / 2.0;
            stem.add(onset, BEAT / 2.0 * 0.9, &[0.45, 0.45], |t| {
                let envelope = (t / 0.005).min(1.0) * (-t / 0.25).exp();
                saw(TAU * freq * t, 8) * envelope
            });
        }
    }
}

fn chords(stem: &mut Stem, bars: usize) {
    for bar in 0..bars {
        for (voice, note) in TRIADS[bar % 4].iter().enumerate() {
            let freq = midi_hz(*note);
            let onset = bar as f64 * BAR;
            // Each voice leans to one side a little: a gentle stereo spread.
            let lean = (voice as f64 - 1.0) * 0.3;
            let gains = [0.16 * (1.0 - lean), 0.16 * (1.0 + lean)];
            stem.add(onset, BAR, &gains, |t| {
                let envelope = (t / 0.3).min(1.0) * (1.0 - (t / BAR).powi(4));
                let detune = (TAU * freq * 1.003 * t).sin();
                ((TAU * freq * t).sin() + 0.5 * detune + 0.2 * (TAU * 2.0 * freq * t).sin())
                    * envelope
            });
        }
    }
}

/// Scale steps of the lead over the four chords, in eighths (None = rest).
const MELODY: [[Option<f64>; 8]; 4] = [
    [
        Some(69.0),
        None,
        Some(72.0),
        Some(71.0),
        Some(69.0),
        None,
        Some(64.0),
        None,
    ],
    [
        Some(65.0),
        None,
        Some(69.0),
        None,
        Some(72.0),
        Some(69.0),
        Some(65.0),
        None,
    ],
    [
        Some(67.0),
        None,
        Some(72.0),
        Some(76.0),
        Some(74.0),
        None,
        Some(72.0),
        None,
    ],
    [
        Some(71.0),
        Some(74.0),
        Some(71.0),
        None,
        Some(67.0),
        None,
        Some(62.0),
        Some(64.0),
    ],
];

fn lead(stem: &mut Stem, bars: usize, from_bar: usize) {
    for bar in from_bar..bars {
        for (eighth, note) in MELODY[bar % 4].iter().enumerate() {
            let Some(note) = note else { continue };
            let freq = midi_hz(*note);
            let onset = bar as f64 * BAR + eighth as f64 * BEAT / 2.0;
            stem.add(onset, BEAT * 0.45, &[0.22, 0.18], |t| {
                let vibrato = 1.0 + 0.004 * (TAU * 5.5 * t).sin();
                let envelope = (t / 0.01).min(1.0) * (-t / 0.35).exp();
                square(TAU * freq * vibrato * t, 6) * envelope
            });
        }
    }
}

/// Integer samples of `bits` bits, interleaved.
fn quantise(stem: &Stem, bits: u32) -> Vec<i32> {
    let scale = (1i64 << (bits - 1)) as f64;
    let mut out = Vec::with_capacity(stem.frames() * stem.channels.len());
    for i in 0..stem.frames() {
        for channel in &stem.channels {
            let v = (channel[i].clamp(-1.0, 1.0) * (scale - 1.0)).round();
            out.push(v as i32);
        }
    }
    out
}

fn write_wav(path: &Path, stem: &Stem, bits: u16) {
    let spec = hound::WavSpec {
        channels: stem.channels.len() as u16,
        sample_rate: stem.rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create WAV");
    for sample in quantise(stem, bits as u32) {
        writer.write_sample(sample).expect("write WAV sample");
    }
    writer.finalize().expect("finish WAV");
}

fn write_flac(path: &Path, stem: &Stem, bits: usize) {
    let mut samples = quantise(stem, bits as u32);
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .expect("default FLAC config");
    // flacenc 0.5 writes a STREAMINFO that decoders reject when the last
    // block is short (flacenc-rs issue 242): pad to whole blocks of silence.
    let block = config.block_size * stem.channels.len();
    samples.resize(samples.len().div_ceil(block) * block, 0);
    let source = flacenc::source::MemSource::from_samples(
        &samples,
        stem.channels.len(),
        bits,
        stem.rate as usize,
    );
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .expect("FLAC encode");
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).expect("FLAC write");
    std::fs::write(path, sink.as_slice()).expect("write FLAC");
}

/// Writes an album: folder, tracks, seconds a track.
type AlbumWriter = fn(&Path, usize, f64);

const USAGE: &str = "usage: demo-generator [STEMS_DIR]
       demo-generator album DIR [TRACKS] [SECONDS]
       demo-generator mastering-album DIR [TRACKS] [SECONDS]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // An option is never a folder to write stems into.
    if let Some(option) = args.iter().find(|a| a.starts_with('-')) {
        let help = matches!(option.as_str(), "-h" | "--help");
        if help {
            println!("{USAGE}");
        } else {
            eprintln!("demo-generator: unknown option `{option}`\n{USAGE}");
        }
        std::process::exit(if help { 0 } else { 2 });
    }
    let albums: [(&str, AlbumWriter); 2] = [("album", album), ("mastering-album", mastering_album)];
    if let Some((_, write)) = albums
        .iter()
        .find(|(name, _)| args.first().map(String::as_str) == Some(*name))
    {
        let number =
            |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
        let dir = PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "album".into()));
        write(&dir, number(2, 10), number(3, 180) as f64);
        return;
    }
    let root = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "projects/demo/stems".into()),
    );
    demo(&root);
}

type Part = Box<dyn Fn(&mut Stem)>;

/// The eight stems of a benchmark track: name, channels and how to play
/// it, from the track's seed, its kick pattern and the lead's entry.
fn band(bars: usize, seed: u64, kicks: &[f64], lead_at: usize) -> [(&'static str, usize, Part); 8] {
    let kicks = kicks.to_vec();
    [
        ("kick", 1, Box::new(move |s| kick(s, bars, &kicks))),
        ("snare", 1, Box::new(move |s| snare(s, bars, seed + 1))),
        ("hats", 1, Box::new(move |s| hats(s, bars, seed + 2))),
        ("perc", 1, Box::new(move |s| hats(s, bars, seed + 3))),
        ("bass", 1, Box::new(move |s| bass(s, bars))),
        ("chords", 2, Box::new(move |s| chords(s, bars))),
        ("pad", 2, Box::new(move |s| chords(s, bars))),
        ("lead", 2, Box::new(move |s| lead(s, bars, lead_at))),
    ]
}

/// A benchmark album: `tracks` tracks of `seconds` each, 8 stems per track
/// (16-bit WAV at 48 kHz; drums and bass mono, the rest stereo), and its
/// project file.
fn album(dir: &Path, tracks: usize, seconds: f64) {
    let bars = (seconds / BAR).ceil() as usize;
    let mut project = String::from(
        "release \"Benchmark Album\" {\n    artist \"Bench\"\n    version \"1\"\n    sample-rate 48000\n}\n\
         master \"main\" {\n    width 1.1\n    loudness -14\n}\n",
    );
    for track in 1..=tracks {
        let folder = dir.join(format!("stems/{track:02}"));
        std::fs::create_dir_all(&folder).expect("create stem folder");
        let seed = track as u64 * 100;
        let stems = band(bars, seed, &[0.0, 1.0, 2.0, 3.0], 0);
        project.push_str(&format!("track {track} \"Track {track}\" {{\n"));
        for (name, channels, render) in &stems {
            let mut stem = Stem::new(48000, *channels, seconds);
            render(&mut stem);
            // A level per track, so no two tracks share a stem's audio (the
            // cache would otherwise render shared stems once).
            let level = 1.0 - 0.01 * track as f64;
            stem.channels.iter_mut().flatten().for_each(|x| *x *= level);
            write_wav(&folder.join(format!("{name}.wav")), &stem, 16);
            project.push_str(&format!(
                "    stem \"{name}\" \"stems/{track:02}/{name}.wav\" gain=-6\n"
            ));
        }
        project.push_str(
            "    bus \"drums\" \"kick\" \"snare\" \"hats\" \"perc\" gain=-1\n    \
             bus \"music\" \"chords\" \"pad\" \"lead\" { width 0.9 }\n    fade-out 3\n}\n",
        );
    }
    project.push_str(
        "deliverable \"master\" {\n    master \"main\"\n    format \"wav\" bits=24\n}\n\
         deliverable \"cd\" {\n    master \"main\"\n    format \"wav\" bits=16 rate=44100\n}\n",
    );
    std::fs::write(dir.join("bounce.kdl"), project).expect("write project");
}

/// The mastering benchmark album: `tracks` tracks of `seconds` each, 8
/// stems per track (24-bit WAV at 48 kHz, every track's audio its own),
/// each stem through an EQ and a compressor, two bus compressors, a mix
/// compressor, a master with an EQ, a 3-band multiband and a loudness
/// target, and three deliverables (WAV 24-bit/44.1 kHz, MP3 320 kbps,
/// FLAC 24-bit/44.1 kHz). Beside it, `peer.sh TRACK` does the same work
/// for one track with ffmpeg filter graphs.
fn mastering_album(dir: &Path, tracks: usize, seconds: f64) {
    const STEM_CHAIN: &str =
        "eq { highpass 40 slope=12; bell 800 gain=-2 q=1; high-shelf 8000 gain=1.5; }\n        \
         compress threshold=-18 ratio=3 attack=10 release=120";
    const BUS_CHAIN: &str = "compress threshold=-12 ratio=2 attack=20 release=200";
    let bars = (seconds / BAR).ceil() as usize;
    let mut project = String::from(
        "release \"Mastering Benchmark\" {\n    artist \"Bench\"\n    version \"1\"\n    sample-rate 48000\n}\n\
         master \"main\" target=-14 ceiling=-1.0 {\n    \
         eq { low-shelf 100 gain=1; bell 3000 gain=-1 q=0.8; }\n    \
         multiband 200 2500 {\n        \
         band threshold=-20 ratio=2 attack=30 release=200\n        \
         band threshold=-18 ratio=1.5 attack=10 release=100\n        \
         band threshold=-16 ratio=2 attack=5 release=80\n    }\n}\n",
    );
    for track in 1..=tracks {
        let folder = dir.join(format!("stems/{track:02}"));
        std::fs::create_dir_all(&folder).expect("create stem folder");
        let seed = track as u64 * 1000 + 7;
        let shift = track % 4;
        let stems = band(
            bars,
            seed,
            &[0.0, 1.0, 2.0, 3.0, 2.5][..3 + shift % 3],
            shift,
        );
        project.push_str(&format!("track {track} \"Track {track}\" {{\n"));
        let mut noise = Noise(seed + 99);
        for (name, channels, render) in &stems {
            let mut stem = Stem::new(48000, *channels, seconds);
            render(&mut stem);
            // A level and a breath of noise per track: no two tracks share
            // audio, or the cache would render shared steps once.
            let level = 1.0 - 0.01 * track as f64;
            stem.channels
                .iter_mut()
                .flatten()
                .for_each(|x| *x = *x * level + 1e-4 * noise.next());
            write_wav(&folder.join(format!("{name}.wav")), &stem, 24);
            project.push_str(&format!(
                "    stem \"{name}\" \"stems/{track:02}/{name}.wav\" gain=-6 {{\n        {STEM_CHAIN}\n    }}\n"
            ));
        }
        project.push_str(&format!(
            "    bus \"drums\" \"kick\" \"snare\" \"hats\" \"perc\" gain=-1 {{ {BUS_CHAIN}; }}\n    \
             bus \"music\" \"chords\" \"pad\" \"lead\" {{ {BUS_CHAIN}; }}\n    \
             mix {{ compress threshold=-10 ratio=1.5 attack=30 release=300; }}\n}}\n"
        ));
    }
    project.push_str(
        "deliverable \"wav\" {\n    master \"main\"\n    format \"wav\" bits=24 rate=44100\n}\n\
         deliverable \"mp3\" {\n    master \"main\"\n    format \"mp3\" bitrate=320 rate=44100\n}\n\
         deliverable \"flac\" {\n    master \"main\"\n    format \"flac\" bits=24 rate=44100\n}\n",
    );
    std::fs::write(dir.join("bounce.kdl"), project).expect("write project");
    std::fs::write(dir.join("peer.sh"), PEER_SCRIPT).expect("write peer script");
}

/// The same work as `mastering_album`'s project, for one track, as ffmpeg
/// filter graphs: two-pass loudnorm (linear) to -14 LUFS / -1 dBTP, soxr
/// to 44.1 kHz, then WAV 24-bit, MP3 320 kbps and FLAC 24-bit.
const PEER_SCRIPT: &str = r#"#!/usr/bin/env bash
# peer.sh TRACK OUTDIR: the benchmark's ffmpeg peer for one track.
set -euo pipefail
cd "$(dirname "$0")"
t=$(printf %02d "$1"); out="$2"; mkdir -p "$out"
stem='aformat=channel_layouts=stereo,highpass=f=40:poles=2,equalizer=f=800:t=q:w=1:g=-2,highshelf=f=8000:g=1.5,acompressor=threshold=-18dB:ratio=3:attack=10:release=120,volume=-6dB'
bus='acompressor=threshold=-12dB:ratio=2:attack=20:release=200'
inputs=(); graph=''
i=0
for s in kick snare hats perc bass chords pad lead; do
    inputs+=(-i "stems/$t/$s.wav"); graph+="[$i:a]$stem[s$i];"; i=$((i + 1))
done
graph+="[s0][s1][s2][s3]amix=inputs=4:normalize=0,$bus,volume=-1dB[drums];"
graph+="[s5][s6][s7]amix=inputs=3:normalize=0,$bus[music];"
graph+="[drums][s4][music]amix=inputs=3:normalize=0,acompressor=threshold=-10dB:ratio=1.5:attack=30:release=300,"
graph+="lowshelf=f=100:g=1,equalizer=f=3000:t=q:w=0.8:g=-1,acrossover=split=200 2500[b0][b1][b2];"
graph+="[b0]acompressor=threshold=-20dB:ratio=2:attack=30:release=200[c0];"
graph+="[b1]acompressor=threshold=-18dB:ratio=1.5:attack=10:release=100[c1];"
graph+="[b2]acompressor=threshold=-16dB:ratio=2:attack=5:release=80[c2];"
graph+="[c0][c1][c2]amix=inputs=3:normalize=0"
measured=$(ffmpeg -hide_banner -nostdin "${inputs[@]}" -filter_complex \
    "$graph,loudnorm=I=-14:TP=-1:LRA=20:print_format=json" -f null - 2>&1 | sed -n '/^{/,/^}/p')
value() { printf '%s' "$measured" | sed -n "s/.*\"$1\" : \"\(.*\)\".*/\1/p"; }
norm="loudnorm=I=-14:TP=-1:LRA=20:linear=true:measured_I=$(value input_i):measured_TP=$(value input_tp)"
norm+=":measured_LRA=$(value input_lra):measured_thresh=$(value input_thresh):offset=$(value target_offset)"
ffmpeg -hide_banner -nostdin -loglevel error -y "${inputs[@]}" -filter_complex \
    "$graph,$norm,aresample=resampler=soxr:osr=44100,aformat=channel_layouts=stereo,asplit=3[w][m][f]" \
    -map '[w]' -c:a pcm_s24le "$out/$t.wav" \
    -map '[m]' -c:a libmp3lame -b:a 320k "$out/$t.mp3" \
    -map '[f]' -c:a flac -sample_fmt s32 -bits_per_raw_sample 24 "$out/$t.flac"
"#;

/// The demo project's stems.
fn demo(root: &Path) {
    let seconds = 6.0 * BAR;
    for dir in ["01", "02", "03"] {
        std::fs::create_dir_all(root.join(dir)).expect("create stem folder");
    }

    // 1: "First Light": sparse, the lead enters in bar 3.
    let mut s = Stem::new(48000, 1, seconds);
    kick(&mut s, 6, &[0.0, 2.0]);
    write_wav(&root.join("01/kick.wav"), &s, 16);
    let mut s = Stem::new(48000, 1, seconds);
    hats(&mut s, 6, 11);
    write_flac(&root.join("01/hats.flac"), &s, 16);
    let mut s = Stem::new(48000, 1, seconds);
    bass(&mut s, 6);
    write_flac(&root.join("01/bass.flac"), &s, 24);
    let mut s = Stem::new(48000, 2, seconds);
    chords(&mut s, 6);
    write_flac(&root.join("01/chords.flac"), &s, 16);
    let mut s = Stem::new(48000, 2, seconds);
    lead(&mut s, 6, 2);
    write_flac(&root.join("01/lead.flac"), &s, 16);

    // 2: "Night Drive": full kit, the lead recorded at 44.1 kHz.
    let mut s = Stem::new(48000, 1, seconds);
    kick(&mut s, 6, &[0.0, 1.0, 2.0, 3.0]);
    write_flac(&root.join("02/kick.flac"), &s, 16);
    let mut s = Stem::new(48000, 1, seconds);
    snare(&mut s, 6, 22);
    write_flac(&root.join("02/snare.flac"), &s, 16);
    let mut s = Stem::new(48000, 1, seconds);
    hats(&mut s, 6, 33);
    write_flac(&root.join("02/hats.flac"), &s, 16);
    let mut s = Stem::new(48000, 1, seconds);
    bass(&mut s, 6);
    write_flac(&root.join("02/bass.flac"), &s, 16);
    let mut s = Stem::new(48000, 2, seconds);
    chords(&mut s, 6);
    write_flac(&root.join("02/chords.flac"), &s, 16);
    let mut s = Stem::new(44100, 2, seconds);
    lead(&mut s, 6, 0);
    write_flac(&root.join("02/lead-44k.flac"), &s, 24);

    // 3: "Last Exit": drums and bass under held chords.
    let mut s = Stem::new(48000, 1, seconds);
    kick(&mut s, 6, &[0.0, 1.5, 2.0]);
    write_flac(&root.join("03/kick.flac"), &s, 16);
    let mut s = Stem::new(48000, 1, seconds);
    snare(&mut s, 6, 44);
    write_flac(&root.join("03/snare.flac"), &s, 16);
    let mut s = Stem::new(48000, 1, seconds);
    bass(&mut s, 6);
    write_flac(&root.join("03/bass.flac"), &s, 16);
    let mut s = Stem::new(48000, 2, seconds);
    chords(&mut s, 6);
    write_flac(&root.join("03/chords.flac"), &s, 16);
}
