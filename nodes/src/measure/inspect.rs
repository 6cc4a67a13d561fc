//! What a mastering engineer checks on a finished file, measured in one
//! pass: loudness over time (EBU Tech 3341 momentary and short-term, read
//! every 100 ms), dynamics (PSR, AES e-Brief 373; PLR; LRA), the true
//! peak per channel, overs as `afclip` counts them, DC offset, head and
//! tail silence, the longest run of identical samples, stereo correlation
//! and a vectorscope image, the average spectrum of left, right, mid and
//! side, and what a mono fold-down loses.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::measure::blocks::{self, BlockMeter};
use crate::measure::{lanes, InterSampleOvers};
use crate::{AudioError, BlockSink, LoudnessBlocks, TruePeakMeter};

/// Changes whenever an inspection's figures change; part of the key of
/// every report step that inspects a file.
pub const INSPECTOR_VERSION: u32 = 10;

/// Points of each spectrum transform (Hann window, half overlap): 5.9 Hz
/// bins at 48 kHz, fine enough for 1/6-octave bands down to 20 Hz.
const FFT: usize = 8192;
/// Transforms summed in single precision before double.
const GROUP: usize = 16;
/// Bands per octave in the average spectrum.
const BANDS_PER_OCTAVE: f64 = 6.0;
const LOWEST_BAND_HZ: f64 = 20.0;
const HIGHEST_BAND_HZ: f64 = 20_000.0;
/// Octave bands of the mono fold-down (ISO 266 centres).
const OCTAVES: [f64; 10] = [
    31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0,
];
/// Silence, for head and tail: every sample under −60 dBFS.
const SILENCE: f32 = 0.001;
/// Full scale as an integer file reaches it (32767/32768 at 16 bits):
/// a sample at or over it is an on-sample over, as `afclip` counts.
const FULL_SCALE: f32 = 32767.0 / 32768.0;
/// Cells a side of the vectorscope image.
pub const SCOPE_CELLS: usize = 64;
/// A mono fold-down loss that means everything is lost, LU.
const MONO_LOSS_ALL: f64 = 100.0;
/// PSR histogram: 1 dB bins from 0 to this.
const PSR_BINS: usize = 30;

/// JSON has no −∞ or NaN: serde_json writes them as null, and these read
/// a null back as NaN (a figure that does not exist: no DC, silence).
mod nullable {
    use serde::{Deserialize, Deserializer};

    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    pub fn numbers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    }

    pub fn pair<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 2], D::Error> {
        let [a, b] = <[Option<f64>; 2]>::deserialize(d)?;
        Ok([a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)])
    }
}

/// Everything measured on one file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Inspection {
    pub sample_rate: u32,
    #[serde(deserialize_with = "nullable::number")]
    pub seconds: f64,
    /// Integrated loudness, LUFS.
    #[serde(deserialize_with = "nullable::number")]
    pub integrated: f64,
    /// Loudness range, LU.
    #[serde(deserialize_with = "nullable::number")]
    pub lra: f64,
    #[serde(deserialize_with = "nullable::number")]
    pub max_momentary: f64,
    #[serde(deserialize_with = "nullable::number")]
    pub max_short_term: f64,
    /// Strict true peak, dBTP, over both channels and per channel.
    #[serde(deserialize_with = "nullable::number")]
    pub true_peak: f64,
    #[serde(deserialize_with = "nullable::pair")]
    pub true_peak_channels: [f64; 2],
    /// Times (s) of the three loudest 100 ms windows by sample peak, apart
    /// from each other by at least a second.
    #[serde(deserialize_with = "nullable::numbers")]
    pub peak_times: Vec<f64>,
    /// Peak to loudness ratio: true peak − integrated, dB.
    #[serde(deserialize_with = "nullable::number")]
    pub plr: f64,
    pub psr: Psr,
    /// Per channel, dBFS (−∞ for none).
    #[serde(deserialize_with = "nullable::pair")]
    pub dc_offset: [f64; 2],
    #[serde(deserialize_with = "nullable::number")]
    pub head_silence: f64,
    #[serde(deserialize_with = "nullable::number")]
    pub tail_silence: f64,
    /// The longest run of identical samples on either channel outside the
    /// head and tail silence: its length and where it starts, seconds.
    pub longest_run: (f64, f64),
    pub overs: Overs,
    pub correlation: Correlation,
    /// Loudness lost when folded to mono ((L+R)/2 on both channels), LU;
    /// overall and per octave band (`OCTAVES`).
    #[serde(deserialize_with = "nullable::number")]
    pub mono_loss: f64,
    pub mono_loss_octaves: Vec<(f64, f64)>,
    pub spectrum: Spectrum,
    /// One point per 100 ms.
    pub series: Series,
    /// A `SCOPE_CELLS`² density image of (side, mid), row by row from the
    /// top, each cell 0–255 on a log scale.
    pub vectorscope: Vec<u8>,
}

/// The peak-to-short-term-loudness ratio (AES e-Brief 373): the highest
/// sample peak of the last 3 s over the short-term loudness.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Psr {
    #[serde(deserialize_with = "nullable::number")]
    pub min: f64,
    #[serde(deserialize_with = "nullable::number")]
    pub median: f64,
    /// Share of the time in each 1 dB bin from 0 dB.
    #[serde(deserialize_with = "nullable::numbers")]
    pub distribution: Vec<f64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Overs {
    /// Samples at or over full scale.
    pub on_sample: u64,
    /// Points between samples (8×, as the limiter reads them) over full
    /// scale.
    pub inter_sample: u64,
}

/// What a meter of a file's very samples read already (as its encoder
/// did), which its inspection takes instead of reading again.
#[derive(Default, Clone, Copy)]
pub struct AlreadyRead<'a> {
    /// Each channel's strict true peak, dBTP.
    pub true_peaks: Option<[f64; 2]>,
    /// The loudness of each 100 ms block.
    pub blocks: Option<&'a LoudnessBlocks>,
}

/// Decodes `path` and inspects it.
pub fn inspect_file(path: &std::path::Path, known: AlreadyRead) -> Result<Inspection, AudioError> {
    let mut file = crate::DecodedFile::open(path)?;
    let info = file.info();
    let mut inspector = Inspector::new(info.sample_rate)?
        .of_channels(info.channels as u16)?
        .with_already_read(known);
    crate::copy_source(&mut file, &mut inspector)?;
    inspector.finish_file(path)
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Correlation {
    #[serde(deserialize_with = "nullable::number")]
    pub min: f64,
    #[serde(deserialize_with = "nullable::number")]
    pub mean: f64,
    /// Share of the 100 ms windows under 0.
    #[serde(deserialize_with = "nullable::number")]
    pub below_zero: f64,
}

/// Average power spectral density per 1/6-octave band, dB (a full-scale
/// sine in one band reads about 0 dB less its bandwidth's share).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Spectrum {
    /// Band centres, Hz.
    #[serde(deserialize_with = "nullable::numbers")]
    pub bands: Vec<f64>,
    #[serde(deserialize_with = "nullable::numbers")]
    pub left: Vec<f64>,
    #[serde(deserialize_with = "nullable::numbers")]
    pub right: Vec<f64>,
    #[serde(deserialize_with = "nullable::numbers")]
    pub mid: Vec<f64>,
    #[serde(deserialize_with = "nullable::numbers")]
    pub side: Vec<f64>,
}

/// Series read every 100 ms (NaN or −∞ where nothing is measured yet).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Series {
    #[serde(deserialize_with = "nullable::numbers")]
    pub momentary: Vec<f64>,
    #[serde(deserialize_with = "nullable::numbers")]
    pub short_term: Vec<f64>,
    /// Sample peak of each window, dBFS.
    #[serde(deserialize_with = "nullable::numbers")]
    pub peak: Vec<f64>,
    #[serde(deserialize_with = "nullable::numbers")]
    pub psr: Vec<f64>,
    #[serde(deserialize_with = "nullable::numbers")]
    pub correlation: Vec<f64>,
}

/// A sink that inspects what flows into it; [`Inspector::finish`] gives
/// the figures.
pub struct Inspector {
    rate: u32,
    frames: u64,
    meter: BlockMeter,
    /// The blocks a meter of these samples kept, read instead of `meter`.
    known: Option<LoudnessBlocks>,
    /// A meter of the fold-down on both speakers, only for known blocks
    /// that do not hold the fold-down's (a stereo meter reads it from the
    /// channels).
    mono: Option<BlockMeter>,
    /// The fold-down of the slice being written.
    mono_samples: Vec<f32>,
    /// A mono file's: its one channel (given left and right) is metered
    /// once, as BS.1770-4 sums a file's channels, and is its own fold-down.
    mono_file: bool,
    /// The strict meter, or each channel's true peak already read.
    strict: TruePeaks,
    /// Frames per 100 ms window, and the window being read.
    step: usize,
    window: Window,
    series: Series,
    sums: [f64; 2],
    first_sound: Option<u64>,
    last_sound: Option<u64>,
    runs: [Run; 2],
    longest: (u64, u64),
    overs: Overs,
    spectra: SpectrumAccumulator,
    /// Counts per vectorscope cell.
    scope: Box<[[u64; SCOPE_CELLS * SCOPE_CELLS]; 2]>,
    /// The vectorscope cell of each frame of the window being written.
    cells: Vec<u16>,
}

#[derive(Default)]
struct Window {
    frames: usize,
    peak: f32,
    lr: f64,
    ll: f64,
    rr: f64,
}

#[derive(Clone, Copy, Default)]
struct Run {
    value: f32,
    start: u64,
    length: u64,
}

/// Where an inspection's true peaks come from.
enum TruePeaks {
    Meter(Box<TruePeakMeter>),
    /// Each channel's, dBTP, read by a meter of the same samples before;
    /// when over full scale, the inter-sample overs are counted as the
    /// samples pass.
    Known([f64; 2], Option<Box<InterSampleOvers>>),
}

impl Inspector {
    /// Takes what a meter of the same samples read already.
    pub fn with_already_read(mut self, known: AlreadyRead) -> Self {
        if let Some(peaks) = known.true_peaks.filter(|p| p.iter().all(|x| !x.is_nan())) {
            self = self.with_true_peaks(peaks);
        }
        if let Some(blocks) = known.blocks {
            self = self.with_blocks(blocks);
        }
        self
    }

    /// The figures of the file at `path`, which has all been written to
    /// this inspector. Inter-sample overs exist only when the true peak is
    /// over full scale (the strict meter reads every point the count
    /// reads, and more): with a true peak read before, they were counted
    /// as the samples passed; with the inspector's own meter, they are
    /// counted in a second pass once the peak is known.
    pub fn finish_file(self, path: &std::path::Path) -> Result<Inspection, AudioError> {
        let counted = matches!(self.strict, TruePeaks::Known(..));
        let mut figures = self.finish()?;
        if figures.true_peak > 0.0 && !counted {
            let mut file = crate::DecodedFile::open(path)?;
            let mut count = InterSampleOvers::new(figures.sample_rate, figures.true_peak);
            crate::copy_source(&mut file, &mut count)?;
            figures.overs.inter_sample = count.finish();
        }
        Ok(figures)
    }

    /// This inspector, reading a file of `channels` (1 or 2); called
    /// before it is told what was read already.
    pub fn of_channels(mut self, channels: u16) -> Result<Self, AudioError> {
        if channels == 1 {
            self.meter = BlockMeter::mono(self.rate, false)?;
            self.mono_file = true;
        }
        Ok(self)
    }

    /// Takes each channel's true peak (dBTP) as `channels`, read on the
    /// same samples by the strict meter before, instead of reading it.
    pub fn with_true_peaks(mut self, channels: [f64; 2]) -> Self {
        let true_peak = channels[0].max(channels[1]);
        let overs =
            (true_peak > 0.0).then(|| Box::new(InterSampleOvers::new(self.rate, true_peak)));
        self.strict = TruePeaks::Known(channels, overs);
        self
    }

    /// Takes the loudness of each 100 ms block from `blocks`, kept by a
    /// meter of the same samples before, instead of filtering them again.
    pub fn with_blocks(mut self, blocks: &LoudnessBlocks) -> Self {
        if blocks.fold_down().is_none() && !self.mono_file {
            self.mono = Some(BlockMeter::dual_mono(self.rate).expect("the rate the meter took"));
        }
        self.known = Some(blocks.clone());
        self
    }

    pub fn new(rate: u32) -> Result<Self, AudioError> {
        let meter = BlockMeter::stereo(rate, false)?;
        Ok(Inspector {
            rate,
            frames: 0,
            // Windows close where the meter closes its blocks.
            step: meter.step(),
            meter,
            known: None,
            mono: None,
            mono_samples: Vec::new(),
            mono_file: false,
            strict: TruePeaks::Meter(Box::new(TruePeakMeter::new(rate))),
            window: Window::default(),
            series: Series {
                momentary: Vec::new(),
                short_term: Vec::new(),
                peak: Vec::new(),
                psr: Vec::new(),
                correlation: Vec::new(),
            },
            sums: [0.0; 2],
            first_sound: None,
            last_sound: None,
            runs: [Run::default(); 2],
            longest: (0, 0),
            overs: Overs {
                on_sample: 0,
                inter_sample: 0,
            },
            spectra: SpectrumAccumulator::new(),
            scope: Box::new([[0; SCOPE_CELLS * SCOPE_CELLS]; 2]),
            cells: Vec::new(),
        })
    }

    /// Reads the window just written. At the end of a file it may be
    /// shorter than 100 ms: the momentary reading is then the last 400 ms,
    /// and the short-term reading takes the last 100 ms as its newest
    /// block (within a thousandth of an LU of the 3 s).
    fn read_window(&mut self) {
        let w = std::mem::take(&mut self.window);
        let (momentary, short_term) = self.readings(w.frames == self.step);
        let series = &mut self.series;
        series.momentary.push(blocks::loudness(momentary));
        let short_term = blocks::loudness(short_term);
        series.short_term.push(short_term);
        series.peak.push(crate::gain_to_db(w.peak as f64));
        // PSR: the highest peak of the last 3 s (30 windows) over the
        // short-term loudness of the same 3 s.
        let recent = series.peak.len().saturating_sub(30);
        let peak_3s = series.peak[recent..]
            .iter()
            .fold(f64::NEG_INFINITY, |m, p| m.max(*p));
        series.psr.push(if short_term.is_finite() {
            peak_3s - short_term
        } else {
            f64::NAN
        });
        // Quiet windows (under −60 dBFS RMS) have no meaningful phase.
        let energy = (w.ll * w.rr).sqrt();
        let quiet = (w.ll + w.rr) / (2.0 * w.frames.max(1) as f64) < 1e-6;
        series.correlation.push(if energy > 1e-12 && !quiet {
            w.lr / energy
        } else {
            f64::NAN
        });
    }

    /// The whole blocks' energies so far: known, or the meter's.
    fn energies(&self) -> &[f64] {
        match &self.known {
            Some(known) => &known.energies()[..self.series.momentary.len().min(known.len())],
            None => self.meter.energies(),
        }
    }

    /// The momentary and short-term energies at the end of the window
    /// being read: a whole one, or the file's last, shorter one.
    fn readings(&self, whole: bool) -> (f64, f64) {
        let energies = match (&self.known, whole) {
            // The block this window closed.
            (Some(known), true) => &known.energies()[..=self.series.momentary.len()],
            _ => self.energies(),
        };
        if whole {
            let last = energies.len() - 1;
            return (
                blocks::momentary(energies, last),
                blocks::short_term(energies, last),
            );
        }
        let [last_100ms, last_400ms] = match self.known.as_ref().and_then(LoudnessBlocks::tail) {
            Some(tail) => tail,
            None => [self.meter.last_100ms(), self.meter.last_400ms()],
        };
        let with_partial = [energies, &[last_100ms]].concat();
        let last = with_partial.len() - 1;
        (last_400ms, blocks::short_term(&with_partial, last))
    }

    /// Follows the runs of identical samples through `samples`, in chunks:
    /// a chunk where no sample repeats the one before it (most of any
    /// sounding signal) leaves a run of one sample, its last, and cannot
    /// make a longer run the longest, so it is checked in one vectorised
    /// comparison and only chunks with a repeat are followed sample by
    /// sample.
    fn track_runs(&mut self, channel: usize, samples: &[f32]) {
        const CHUNK: usize = 64;
        let mut from = 0;
        while from < samples.len() {
            let to = (from + CHUNK).min(samples.len());
            let chunk = &samples[from..to];
            let run = &self.runs[channel];
            let before = match from {
                0 => (run.length > 0).then_some(run.value),
                _ => Some(samples[from - 1]),
            };
            let repeats = before == Some(chunk[0])
                || chunk[1..]
                    .iter()
                    .zip(chunk)
                    .fold(false, |any, (x, previous)| any | (x == previous));
            if repeats || self.longest.1 == 0 {
                self.follow_runs(channel, from, chunk);
            } else {
                self.runs[channel] = Run {
                    value: chunk[chunk.len() - 1],
                    start: self.frames + to as u64 - 1,
                    length: 1,
                };
            }
            from = to;
        }
    }

    /// Follows runs sample by sample through `samples`, `offset` frames
    /// into the block being written.
    fn follow_runs(&mut self, channel: usize, offset: usize, samples: &[f32]) {
        let start = self.frames + offset as u64;
        for (i, x) in samples.iter().enumerate() {
            let at = start + i as u64;
            let run = &mut self.runs[channel];
            if run.length > 0 && *x == run.value {
                run.length += 1;
            } else {
                *run = Run {
                    value: *x,
                    start: at,
                    length: 1,
                };
            }
            // Runs of silence are head, tail or a pause, not a dropout,
            // unless sound surrounds them: judged at the end.
            if run.length > self.longest.1 && run.value.abs() >= SILENCE {
                self.longest = (run.start, run.length);
            }
        }
    }

    /// The figures of everything written.
    pub fn finish(mut self) -> Result<Inspection, AudioError> {
        if self.window.frames > 0 {
            self.read_window();
        }
        let seconds = self.frames as f64 / self.rate as f64;
        let integrated = blocks::integrated(blocks::gating_energies(self.energies()));
        let fold_down = match (&self.mono, &self.known) {
            _ if self.mono_file => self.energies(),
            (Some(meter), _) => meter.energies(),
            (None, Some(known)) => known.fold_down().expect("a meter when none is known"),
            (None, None) => self.meter.fold_down_energies(),
        };
        let mono = blocks::integrated(blocks::gating_energies(fold_down));
        let channels = match std::mem::replace(&mut self.strict, TruePeaks::Known([0.0; 2], None)) {
            TruePeaks::Meter(meter) => meter.true_peak_channels_db(),
            TruePeaks::Known(channels, overs) => {
                self.overs.inter_sample = overs.map_or(0, |overs| overs.finish());
                channels
            }
        };
        let true_peak = channels[0].max(channels[1]);
        let psr = psr_figures(&self.series.psr);
        let correlation = correlation_figures(&self.series.correlation);
        let frames_to_s = |f: u64| f as f64 / self.rate as f64;
        let head = self.first_sound.map_or(seconds, frames_to_s);
        let tail = self
            .last_sound
            .map_or(seconds, |last| seconds - frames_to_s(last + 1));
        let spectrum = self.spectra.finish(self.rate);
        let mono_loss_octaves = self.spectra.mono_loss_octaves(self.rate);
        let dc = |sum: f64| crate::gain_to_db((sum / self.frames.max(1) as f64).abs());
        let [even, odd] = &*self.scope;
        let scope: Vec<u64> = even.iter().zip(odd).map(|(a, b)| a + b).collect();
        let max_scope = scope.iter().copied().max().unwrap_or(0).max(1) as f64;
        Ok(Inspection {
            sample_rate: self.rate,
            seconds,
            integrated,
            lra: blocks::loudness_range(self.energies()),
            max_momentary: finite_max(&self.series.momentary),
            max_short_term: finite_max(&self.series.short_term),
            true_peak,
            true_peak_channels: channels,
            peak_times: peak_times(&self.series.peak),
            plr: true_peak - integrated,
            psr,
            dc_offset: [dc(self.sums[0]), dc(self.sums[1])],
            head_silence: head,
            tail_silence: tail,
            longest_run: (frames_to_s(self.longest.1), frames_to_s(self.longest.0)),
            overs: self.overs,
            correlation,
            // Past 100 LU a fold-down has lost everything.
            mono_loss: (integrated - mono).min(MONO_LOSS_ALL),
            mono_loss_octaves,
            spectrum,
            series: self.series,
            vectorscope: scope
                .iter()
                .map(|n| ((*n as f64).ln_1p() / max_scope.ln_1p() * 255.0).round() as u8)
                .collect(),
        })
    }
}

impl BlockSink for Inspector {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        match &mut self.strict {
            TruePeaks::Meter(meter) => meter.write(left, right)?,
            TruePeaks::Known(_, Some(overs)) => overs.write(left, right)?,
            TruePeaks::Known(_, None) => {}
        }
        for (channel, samples) in [left, right].into_iter().enumerate() {
            self.overs.on_sample += samples.iter().filter(|x| x.abs() >= FULL_SCALE).count() as u64;
            self.sums[channel] += lanes::sum(samples);
            self.track_runs(channel, samples);
        }
        if let Some(mono) = &mut self.mono {
            self.mono_samples.clear();
            self.mono_samples
                .extend(left.iter().zip(right).map(|(l, r)| (l + r) / 2.0));
            mono.write(&[&self.mono_samples])?;
        }
        self.spectra.write(left, right);
        let mut start = 0;
        while start < left.len() {
            let take = (self.step - self.window.frames).min(left.len() - start);
            let (l, r) = (&left[start..start + take], &right[start..start + take]);
            match (&self.known, self.mono_file) {
                (Some(_), _) => {}
                (None, true) => _ = self.meter.write(&[l])?,
                (None, false) => _ = self.meter.write(&[l, r])?,
            }
            let sounding = |(x, y): (&f32, &f32)| x.abs().max(y.abs()) >= SILENCE;
            let at = self.frames + start as u64;
            if let Some(first) = l.iter().zip(r).position(sounding) {
                self.first_sound.get_or_insert(at + first as u64);
                let last = l.iter().zip(r).rposition(sounding).unwrap_or(first);
                self.last_sound = Some(at + last as u64);
            }
            let w = &mut self.window;
            w.peak = w.peak.max(lanes::peak(l)).max(lanes::peak(r));
            let [lr, ll, rr] = lanes::products(l, r);
            (w.lr, w.ll, w.rr) = (w.lr + lr, w.ll + ll, w.rr + rr);
            // Vectorscope: side across, mid up, ±1 at the edges. The cells
            // first (a loop the compiler vectorises), then counted in runs
            // of one cell: neighbouring samples mostly fall in the same
            // cell, and counting each waits on the count before it.
            self.cells.clear();
            self.cells.extend(l.iter().zip(r).map(|(x, y)| {
                let side = (x - y) * std::f32::consts::FRAC_1_SQRT_2;
                let mid = (x + y) * std::f32::consts::FRAC_1_SQRT_2;
                ((SCOPE_CELLS - 1 - scope_cell(mid)) * SCOPE_CELLS + scope_cell(side)) as u16
            }));
            let [even, odd] = &mut *self.scope;
            let pairs = self.cells.chunks_exact(2);
            if let [last] = pairs.remainder() {
                even[*last as usize % even.len()] += 1;
            }
            for pair in pairs {
                even[pair[0] as usize % even.len()] += 1;
                odd[pair[1] as usize % odd.len()] += 1;
            }
            self.window.frames += take;
            if self.window.frames == self.step {
                self.read_window();
            }
            start += take;
        }
        self.frames += left.len() as u64;
        Ok(())
    }
}

/// The vectorscope cell of a value, −1 to 1 across its `SCOPE_CELLS`,
/// rounded half up (the scaled value is never negative).
#[inline(always)]
#[allow(clippy::manual_clamp)]
fn scope_cell(v: f32) -> usize {
    const HALF_SPAN: f32 = (SCOPE_CELLS - 1) as f32 / 2.0;
    // max and min rather than clamp: the same for every finite sample (a
    // decoded file holds no NaN), and they vectorise.
    ((v.max(-1.0).min(1.0) + 1.0) * HALF_SPAN + 0.5) as i32 as usize
}

fn finite_max(values: &[f64]) -> f64 {
    values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max)
}

fn psr_figures(series: &[f64]) -> Psr {
    let mut values: Vec<f64> = series.iter().copied().filter(|v| v.is_finite()).collect();
    values.sort_by(f64::total_cmp);
    let mut distribution = vec![0.0; PSR_BINS];
    for v in &values {
        distribution[(v.max(0.0) as usize).min(PSR_BINS - 1)] += 1.0 / values.len() as f64;
    }
    Psr {
        min: values.first().copied().unwrap_or(f64::NAN),
        median: values.get(values.len() / 2).copied().unwrap_or(f64::NAN),
        distribution,
    }
}

fn correlation_figures(series: &[f64]) -> Correlation {
    let values: Vec<f64> = series.iter().copied().filter(|v| v.is_finite()).collect();
    let n = values.len().max(1) as f64;
    Correlation {
        min: values.iter().copied().fold(f64::NAN, f64::min),
        mean: values.iter().sum::<f64>() / n,
        below_zero: values.iter().filter(|v| **v < 0.0).count() as f64 / n,
    }
}

/// The three loudest windows at least a second apart, seconds.
fn peak_times(peaks: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..peaks.len()).filter(|i| peaks[*i].is_finite()).collect();
    order.sort_by(|a, b| peaks[*b].total_cmp(&peaks[*a]).then(a.cmp(b)));
    let mut chosen: Vec<usize> = Vec::new();
    for i in order {
        if chosen.iter().all(|c| c.abs_diff(i) >= 10) {
            chosen.push(i);
        }
        if chosen.len() == 3 {
            break;
        }
    }
    chosen.into_iter().map(|i| i as f64 / 10.0).collect()
}

/// Averages power spectra of left, right, mid and side over Hann windows
/// at half overlap.
pub(crate) struct SpectrumAccumulator {
    /// Single precision: its rounding (about −140 dB under the signal) is
    /// far under anything a spectrum plot or band figure shows, at half
    /// the cost of double precision.
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    pending: [Vec<f32>; 2],
    /// Power per bin, summed over transforms: left, right, mid, side.
    power: [Vec<f64>; 4],
    /// The same sums over the last few transforms, in single precision
    /// (a loop the compiler vectorises): at most `GROUP` terms, each
    /// non-negative, so under a millionth relative error before they are
    /// added to `power`. Mid and side are kept as |X_L ± X_R|², a quarter
    /// of their power.
    recent: [Vec<f32>; 4],
    in_recent: usize,
    transforms: u64,
    /// The transform's scratch: windowed input, left and right spectra.
    input: Vec<f32>,
    spectra: [Vec<realfft::num_complex::Complex<f32>>; 2],
}

impl SpectrumAccumulator {
    pub(crate) fn new() -> Self {
        let window = (0..FFT)
            .map(|i| (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / FFT as f64).cos()) as f32)
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT);
        SpectrumAccumulator {
            input: fft.make_input_vec(),
            spectra: [fft.make_output_vec(), fft.make_output_vec()],
            fft,
            window,
            pending: [Vec::new(), Vec::new()],
            power: std::array::from_fn(|_| vec![0.0; FFT / 2 + 1]),
            recent: std::array::from_fn(|_| vec![0.0; FFT / 2 + 1]),
            in_recent: 0,
            transforms: 0,
        }
    }

    pub(crate) fn write(&mut self, left: &[f32], right: &[f32]) {
        self.pending[0].extend_from_slice(left);
        self.pending[1].extend_from_slice(right);
        while self.pending[0].len() >= FFT {
            self.transform();
            self.pending[0].drain(..FFT / 2);
            self.pending[1].drain(..FFT / 2);
        }
    }

    fn transform(&mut self) {
        // Left and right are transformed; mid and side follow by
        // linearity: the transform of (L ± R)/2 is (X_L ± X_R)/2.
        for (channel, spectrum) in self.pending.iter().zip(self.spectra.iter_mut()) {
            for ((x, s), w) in self.input.iter_mut().zip(&channel[..FFT]).zip(&self.window) {
                *x = s * w;
            }
            self.fft
                .process(&mut self.input, spectrum)
                .expect("buffers from the plan");
        }
        let [left, right] = &self.spectra;
        let [pl, pr, pm, ps] = &mut self.recent;
        for (k, (l, r)) in left.iter().zip(right).enumerate() {
            let (sum, difference) = (l + r, l - r);
            pl[k] += l.re * l.re + l.im * l.im;
            pr[k] += r.re * r.re + r.im * r.im;
            pm[k] += sum.re * sum.re + sum.im * sum.im;
            ps[k] += difference.re * difference.re + difference.im * difference.im;
        }
        self.in_recent += 1;
        self.transforms += 1;
        if self.in_recent == GROUP {
            self.settle();
        }
    }

    /// Adds the recent sums to the totals.
    fn settle(&mut self) {
        for (which, (total, recent)) in self.power.iter_mut().zip(&mut self.recent).enumerate() {
            let scale = if which < 2 { 1.0 } else { 0.25 };
            for (t, r) in total.iter_mut().zip(recent.iter_mut()) {
                *t += *r as f64 * scale;
                *r = 0.0;
            }
        }
        self.in_recent = 0;
    }

    /// Power of bin `k` of spectrum `which`, scaled so a full-scale sine's
    /// bins sum to 1 (0 dB).
    fn scale(&self) -> f64 {
        let window_sum: f64 = self.window.iter().map(|w| *w as f64).sum();
        // A sine of amplitude A gives |X|² summing to about (A·Σw/2)²·(3/2)/…;
        // the Hann window's energy factor 1.5 spreads it over its bins.
        4.0 / (window_sum * window_sum * 1.5) / self.transforms.max(1) as f64
    }

    /// Mean power density per band (dB), band centres at 1/6 octave.
    pub(crate) fn finish(&mut self, rate: u32) -> Spectrum {
        self.settle();
        let bin_hz = rate as f64 / FFT as f64;
        let nyquist = rate as f64 / 2.0;
        let mut bands = Vec::new();
        let mut centre = LOWEST_BAND_HZ;
        while centre <= HIGHEST_BAND_HZ.min(nyquist / 2f64.powf(0.5 / BANDS_PER_OCTAVE)) {
            bands.push(centre);
            centre *= 2f64.powf(1.0 / BANDS_PER_OCTAVE);
        }
        let scale = self.scale();
        let density = |which: usize| -> Vec<f64> {
            bands
                .iter()
                .map(|centre| {
                    let half = 2f64.powf(0.5 / BANDS_PER_OCTAVE);
                    let (low, high) = (centre / half, centre * half);
                    let bins = ((low / bin_hz).ceil() as usize).max(1)
                        ..=((high / bin_hz).floor() as usize).min(FFT / 2);
                    let (sum, count) = if bins.is_empty() {
                        // Narrower than a bin: the nearest bin stands in.
                        let k = (centre / bin_hz).round() as usize;
                        (self.power[which][k], 1)
                    } else {
                        let count = bins.clone().count();
                        (bins.map(|k| self.power[which][k]).sum::<f64>(), count)
                    };
                    10.0 * (sum / count as f64 * scale).max(1e-30).log10()
                })
                .collect()
        };
        Spectrum {
            left: density(0),
            right: density(1),
            mid: density(2),
            side: density(3),
            bands,
        }
    }

    /// Per octave band: mid power against the channels' mean power, dB
    /// (0 for mono material, −∞ for L = −R).
    fn mono_loss_octaves(&mut self, rate: u32) -> Vec<(f64, f64)> {
        self.settle();
        let bin_hz = rate as f64 / FFT as f64;
        OCTAVES
            .iter()
            .filter(|centre| **centre * std::f64::consts::SQRT_2 <= rate as f64 / 2.0)
            .map(|centre| {
                let (low, high) = (
                    centre / std::f64::consts::SQRT_2,
                    centre * std::f64::consts::SQRT_2,
                );
                let bins = (low / bin_hz).ceil() as usize..=((high / bin_hz).floor() as usize);
                let sum = |which: usize| bins.clone().map(|k| self.power[which][k]).sum::<f64>();
                let channels = (sum(0) + sum(1)) / 2.0;
                let loss = if channels > 0.0 {
                    (-10.0 * (sum(2) / channels).log10()).min(MONO_LOSS_ALL)
                } else {
                    0.0
                };
                (*centre, loss)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    const RATE: u32 = 48000;

    /// The longest run of identical sounding samples (start, length),
    /// followed one sample at a time: what the chunked tracking must find.
    fn longest_run_plainly(samples: &[f32]) -> (u64, u64) {
        let (mut longest, mut start, mut length) = ((0, 0), 0u64, 0u64);
        for (i, x) in samples.iter().enumerate() {
            if length > 0 && *x == samples[i - 1] {
                length += 1;
            } else {
                (start, length) = (i as u64, 1);
            }
            if length > longest.1 && x.abs() >= SILENCE {
                longest = (start, length);
            }
        }
        longest
    }

    /// Runs planted inside a chunk, across chunk and block edges, of
    /// silence (never a dropout), and none at all: the chunked tracking
    /// finds the run a plain sample-by-sample walk finds.
    #[test]
    fn runs_are_found_in_chunks_as_sample_by_sample() {
        for (at, length, value) in [
            (10, 5, 0.3f32),
            (60, 9, 0.3),
            // Across a chunk's edge (64 frames into a block) and a block's.
            (63, 2, -0.2),
            (99, 2, 0.4),
            (190, 140, 0.25),
            (700, 50, 0.0),
            (0, 0, 0.0),
        ] {
            let mut signal: Vec<f32> = (0..2000)
                .map(|i| (0.5 * (i as f64 * 0.6180).sin()) as f32)
                .collect();
            signal[at..at + length].fill(value);
            let mut inspector = Inspector::new(RATE).unwrap();
            for block in signal.chunks(100) {
                inspector.write(block, block).unwrap();
            }
            assert_eq!(
                inspector.longest,
                longest_run_plainly(&signal),
                "a run of {length} at {at}"
            );
            let run = inspector.runs[0];
            assert_eq!((run.value, run.start), (signal[1999], 1999));
        }
    }

    /// As [`inspect_file`] does, on samples in memory.
    fn inspect(left: &[f32], right: &[f32]) -> Inspection {
        let mut inspector = Inspector::new(RATE).unwrap();
        for (l, r) in left.chunks(4096).zip(right.chunks(4096)) {
            inspector.write(l, r).unwrap();
        }
        let mut figures = inspector.finish().unwrap();
        let mut overs = InterSampleOvers::new(RATE, figures.true_peak);
        overs.write(left, right).unwrap();
        let counted = overs.finish();
        if figures.true_peak > 0.0 {
            figures.overs.inter_sample = counted;
        } else {
            assert_eq!(
                counted, 0,
                "a point over full scale under a true peak of {}",
                figures.true_peak
            );
        }
        figures
    }

    fn sine(freq: f64, level_db: f64, seconds: f64) -> Vec<f32> {
        let a = crate::db_to_gain(level_db);
        (0..(seconds * RATE as f64) as usize)
            .map(|i| (a * (std::f64::consts::TAU * freq * i as f64 / RATE as f64).sin()) as f32)
            .collect()
    }

    /// Pink noise by Paul Kellet's filter on a seeded white noise.
    fn pink(seconds: f64, seed: u64) -> Vec<f32> {
        let mut state = seed;
        let mut b = [0.0f64; 7];
        (0..(seconds * RATE as f64) as usize)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let white = ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
                b[0] = 0.99886 * b[0] + white * 0.0555179;
                b[1] = 0.99332 * b[1] + white * 0.0750759;
                b[2] = 0.96900 * b[2] + white * 0.1538520;
                b[3] = 0.86650 * b[3] + white * 0.3104856;
                b[4] = 0.55000 * b[4] + white * 0.5329522;
                b[5] = -0.7616 * b[5] - white * 0.0168980;
                let out = b[..6].iter().sum::<f64>() + b[6] + white * 0.5362;
                b[6] = white * 0.115926;
                (out * 0.05) as f32
            })
            .collect()
    }

    /// The short-term series from the blocks is ebur128's own short-term
    /// reading at every 100 ms, through music-like
    /// changes: pink noise at varied levels with digital silence between.
    #[test]
    fn short_term_from_blocks_is_ebur128s_short_term() {
        let mut left = Vec::new();
        let parts = [
            (0.2f32, 1.7),
            (1.0, 1.7),
            (0.05, 1.7),
            (0.0, 3.6),
            (0.6, 1.7),
            (0.0, 1.0),
            (0.3, 1.7),
        ];
        for (i, (level, seconds)) in parts.iter().enumerate() {
            left.extend(pink(*seconds, i as u64 + 1).iter().map(|x| x * level));
        }
        // The right channel: the left seven samples later, quieter.
        let right: Vec<f32> = (0..left.len())
            .map(|i| 0.7 * left[i.saturating_sub(7)])
            .collect();
        let figures = inspect(&left, &right);
        let mut meter = EbuR128::new(2, RATE, Mode::S).unwrap();
        let mut expected = Vec::new();
        for (l, r) in left.chunks(4800).zip(right.chunks(4800)) {
            meter.add_frames_planar_f32(&[l, r]).unwrap();
            if l.len() == 4800 {
                expected.push(meter.loudness_shortterm().unwrap());
            }
        }
        assert_eq!(figures.series.short_term.len(), expected.len());
        for (i, (got, want)) in figures.series.short_term.iter().zip(&expected).enumerate() {
            // Under -120 LUFS is the filter's decaying tail over digital
            // silence: the blocks call it silence (-inf) a little sooner.
            if *want > -120.0 {
                assert!(
                    (got - want).abs() < 1e-6,
                    "window {i}: {got} against {want}"
                );
            } else {
                assert!(*got <= -120.0, "window {i}: {got} against {want}");
            }
        }
        assert!(
            expected.iter().any(|v| *v < -70.0),
            "a silence (3 s of filter tail) tested"
        );
    }

    #[test]
    fn a_steady_sine_reads_flat_curves_and_its_peak() {
        // EBU Tech 3341 case 1 in spirit: 1 kHz at −20 dBFS on both
        // channels reads −20 LUFS... less the K-filter's 1 kHz gain; its
        // curves stay flat once the windows fill.
        let s = sine(1000.0, -20.0, 20.0);
        let figures = inspect(&s, &s);
        let settled = &figures.series.short_term[40..];
        let (low, high) = settled
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
        assert!(high - low < 0.05, "short-term moves {low}..{high}");
        // A sine's power is half its peak's squared, and both channels
        // add: −20 dBFS peak reads −20 LUFS at 1 kHz (EBU Tech 3341).
        assert!(
            (figures.integrated + 20.0).abs() < 0.1,
            "{}",
            figures.integrated
        );
        assert!(
            (figures.true_peak + 20.0).abs() < 0.02,
            "{}",
            figures.true_peak
        );
        assert!((figures.true_peak_channels[0] - figures.true_peak_channels[1]).abs() < 1e-9);
        assert_eq!(
            figures.overs,
            Overs {
                on_sample: 0,
                inter_sample: 0
            }
        );
        assert!((figures.correlation.mean - 1.0).abs() < 1e-6);
        assert!(figures.mono_loss.abs() < 0.01, "{}", figures.mono_loss);
        assert!((figures.plr - (figures.true_peak - figures.integrated)).abs() < 1e-12);
    }

    #[test]
    fn pink_noise_falls_three_decibels_an_octave() {
        let (l, r) = (pink(20.0, 1), pink(20.0, 2));
        let figures = inspect(&l, &r);
        let spectrum = &figures.spectrum;
        let at = |hz: f64| {
            let i = spectrum
                .bands
                .iter()
                .position(|b| (b / hz - 1.0).abs() < 0.06)
                .unwrap_or_else(|| panic!("a band at {hz} Hz"));
            (spectrum.left[i] + spectrum.right[i]) / 2.0
        };
        // Octaves from 100 Hz to 6.4 kHz, where Kellet's filter is within
        // ±0.05 dB of 1/f.
        let octaves: Vec<f64> = [100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0]
            .iter()
            .map(|hz| at(*hz))
            .collect();
        for pair in octaves.windows(2) {
            let slope = pair[1] - pair[0];
            assert!(
                (slope + 3.01).abs() < 0.5,
                "slope {slope:.2} dB/oct in {octaves:?}"
            );
        }
        // Two independent noises: near-zero correlation, about 3 LU lost in mono.
        assert!(figures.correlation.mean.abs() < 0.1);
        assert!(
            (figures.mono_loss - 3.0).abs() < 0.3,
            "{}",
            figures.mono_loss
        );
    }

    #[test]
    fn opposite_channels_correlate_at_minus_one_and_vanish_in_mono() {
        let s = sine(440.0, -12.0, 5.0);
        let inverted: Vec<f32> = s.iter().map(|x| -x).collect();
        let figures = inspect(&s, &inverted);
        assert!((figures.correlation.mean + 1.0).abs() < 1e-6);
        assert!(figures.correlation.below_zero > 0.99);
        assert_eq!(figures.mono_loss, MONO_LOSS_ALL);
        let octave = figures
            .mono_loss_octaves
            .iter()
            .find(|(c, _)| *c == 500.0)
            .unwrap();
        assert!(octave.1 > 60.0, "{octave:?}");
    }

    #[test]
    fn a_planted_dc_offset_is_read() {
        let offset = crate::db_to_gain(-40.0) as f32;
        let s: Vec<f32> = sine(100.0, -20.0, 4.0).iter().map(|x| x + offset).collect();
        let figures = inspect(&s, &s);
        for dc in figures.dc_offset {
            assert!((dc + 40.0).abs() < 0.5, "{dc}");
        }
    }

    #[test]
    fn leading_and_trailing_silence_are_timed() {
        let mut s = vec![0.0f32; (1.5 * RATE as f64) as usize];
        s.extend(sine(1000.0, -20.0, 3.0));
        s.extend(vec![0.0f32; (0.25 * RATE as f64) as usize]);
        let figures = inspect(&s, &s);
        assert!(
            (figures.head_silence - 1.5).abs() < 0.01,
            "{}",
            figures.head_silence
        );
        assert!(
            (figures.tail_silence - 0.25).abs() < 0.01,
            "{}",
            figures.tail_silence
        );
    }

    #[test]
    fn a_full_scale_square_counts_every_sample_as_over() {
        let square: Vec<f32> = (0..RATE)
            .map(|i| if (i / 24) % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let figures = inspect(&square, &square);
        assert_eq!(figures.overs.on_sample, 2 * RATE as u64);
        // The band-limited square rings over full scale between samples.
        assert!(figures.overs.inter_sample > 0);
        // A held value of 24 samples is the longest run.
        assert!((figures.longest_run.0 - 24.0 / RATE as f64).abs() < 1e-9);
    }

    #[test]
    fn an_intersample_over_is_counted_without_an_on_sample_one() {
        // fs/4 at 45°: samples at ±0.99, the crest between them at +2.9 dB.
        let a = 0.99 * std::f64::consts::SQRT_2;
        let s: Vec<f32> = (0..RATE as usize)
            .map(|i| {
                (a * (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin())
                    as f32
            })
            .collect();
        let figures = inspect(&s, &s);
        assert_eq!(figures.overs.on_sample, 0);
        assert!(figures.overs.inter_sample > 1000, "{:?}", figures.overs);
        assert!(figures.true_peak > 2.8, "{}", figures.true_peak);
    }

    #[test]
    fn a_dropout_is_found_where_it_is() {
        let mut s = sine(997.0, -10.0, 4.0);
        let at = 2 * RATE as usize;
        for x in &mut s[at..at + 480] {
            *x = 0.25;
        }
        let figures = inspect(&s, &s);
        assert!(
            (figures.longest_run.0 - 0.01).abs() < 1e-4,
            "{:?}",
            figures.longest_run
        );
        assert!(
            (figures.longest_run.1 - 2.0).abs() < 1e-3,
            "{:?}",
            figures.longest_run
        );
    }

    /// A file's encoder measures the samples it writes; the inspection
    /// that takes its true peaks and its 100 ms loudness blocks reads
    /// exactly what one that reads them itself does (a file ending inside
    /// a block too).
    #[test]
    fn what_the_encoder_read_gives_the_same_inspection() {
        use crate::encode::{Container, PcmFormat, PcmSink};
        use crate::Dither;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hot.wav");
        let format = PcmFormat {
            sample_rate: 48000,
            bits: 24,
            float: false,
            container: Container::Wav,
            channels: 2,
        };
        let mut sink = PcmSink::create(&path, format, Dither::Tpdf, 7, None, None).unwrap();
        // A tone near full scale whose inter-sample peaks differ per
        // channel, swelling so loudness moves, 2.04 s long.
        let tone = |i: usize, f: f64, a: f64| {
            let swell = 0.5 + 0.5 * (i as f64 / 48000.0).min(1.0);
            (swell * a * (std::f64::consts::TAU * f * i as f64 / 48000.0).sin()) as f32
        };
        let left: Vec<f32> = (0..98000).map(|i| tone(i, 11025.0, 0.95)).collect();
        let right: Vec<f32> = (0..98000).map(|i| tone(i, 997.0, 0.5)).collect();
        for (l, r) in left.chunks(1000).zip(right.chunks(1000)) {
            sink.write(l, r).unwrap();
        }
        let written = sink.finish().unwrap();
        let channels = written.report.true_peak_channels;
        assert!(channels[0] > channels[1] + 4.0, "{channels:?}");
        let blocks = written.blocks.as_ref().unwrap();
        assert!(blocks.cover(98000, 48000) && blocks.tail().is_some());
        let read = inspect_file(&path, AlreadyRead::default()).unwrap();
        let taken = inspect_file(
            &path,
            AlreadyRead {
                true_peaks: Some(channels),
                blocks: Some(blocks),
            },
        )
        .unwrap();
        assert_eq!(read.true_peak_channels, channels);
        assert_eq!(read, taken);
        // Blocks kept without the fold-down's: the inspection meters the
        // fold-down itself, to the same mono loss within its f32 rounding.
        let without = LoudnessBlocks::new(blocks.energies(), &[], blocks.tail());
        let metered = inspect_file(
            &path,
            AlreadyRead {
                true_peaks: Some(channels),
                blocks: Some(&without),
            },
        )
        .unwrap();
        assert!(read.mono_loss > 0.5, "{}", read.mono_loss);
        assert!((metered.mono_loss - read.mono_loss).abs() < 1e-5);
        assert_eq!(metered.integrated, read.integrated);
        // And it reads them: blocks of twice the energy read 3 dB louder.
        let doubled: Vec<f64> = blocks.energies().iter().map(|e| 2.0 * e).collect();
        let fold_down: Vec<f64> = blocks
            .fold_down()
            .unwrap()
            .iter()
            .map(|e| 2.0 * e)
            .collect();
        let tail = blocks.tail().map(|t| t.map(|e| 2.0 * e));
        let doubled = LoudnessBlocks::new(&doubled, &fold_down, tail);
        let louder = inspect_file(
            &path,
            AlreadyRead {
                true_peaks: None,
                blocks: Some(&doubled),
            },
        )
        .unwrap();
        let gain = louder.integrated - read.integrated;
        assert!((gain - 3.0103).abs() < 0.001, "{gain}");
    }
}
