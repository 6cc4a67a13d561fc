//! Running one step: reading its inputs' outputs, rendering, storing.
//! The mixing of stems, buses and mixes is here; masters, resampling and
//! fits, encoding, tags and the CD each have their file.

mod at_rate;
mod disc;
mod encode;
mod inspect;
pub(crate) use inspect::Comparison;
mod master;
mod tag;

use encode::{check_spec, EncodeInputs};
pub(crate) use encode::{
    file_limiter, first_limit, FileSpec, ATTEMPTS, GRID_MARGIN_DB, LOUDNESS_SLACK,
};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bounce_cache::{Cache, Hash};

use bounce_nodes::{
    render_chain, AudioError, BlockSink, BlockSource, ChainContext, DecodedFile, Fit,
    LimiterSettings, LoudnessReport, Mixer, PcmFormat, PcmReader, PcmWriter, Precision,
    ProcessorSpec, Resampled, Tone, BLOCK_FRAMES,
};
use serde::{Deserialize, Serialize};

use crate::step::{Action, Step};
use crate::BuildError;

/// A cached intermediate file, checked against its name as it is read.
pub(crate) fn open_blob(cache: &Cache, hash: &Hash) -> Result<PcmReader, AudioError> {
    PcmReader::verified(&cache.output_path(hash), *hash.as_bytes())
}

/// Facts about a step's output, kept in the action cache beside its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputInfo {
    pub sample_rate: u32,
    pub channels: u16,
    pub frames: u64,
    pub precision: Precision,
    /// For encoded files: the sample format written.
    #[serde(default)]
    pub bits: Option<u16>,
    #[serde(default)]
    pub float: bool,
    /// For encoded files: what a meter reads on the delivered samples.
    #[serde(default)]
    pub measured: Option<Measured>,
    /// For encoded files: each channel's strict true peak (dBTP) of what
    /// was measured, which the report's inspection takes rather than read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_peak_channels: Option<[f64; 2]>,
    /// For encoded files: the 100 ms loudness blocks of what was
    /// measured, from which the album's ReplayGain loudness is gated and
    /// the report reads loudness over time, without decoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<bounce_nodes::LoudnessBlocks>,
    /// For masters and album steps: the gain solved for the target, dB.
    #[serde(default)]
    pub solved_gain: Option<f64>,
    /// For masters and album steps: the limiter ceiling that, verified on
    /// the output, kept the true peak under the stated ceiling, dBTP.
    #[serde(default)]
    pub limiter_ceiling: Option<f64>,
    /// For masters, and the files made from them: the most the master's
    /// limiter takes off, dB.
    #[serde(default)]
    pub limiter_reduction: Option<f64>,
    /// For masters, and the files made from them: what the master's
    /// limiter takes off on average over the whole track, dB.
    #[serde(default)]
    pub limiter_mean: Option<f64>,
    /// What the user should know about this output, and may act on.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Routine corrections made to reach a target, recorded in the
    /// manifest rather than raised (nothing for the user to act on).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Blobs the output names besides its own, kept in its action entry
    /// (see [`bounce_cache::ActionEntry::also`]) rather than here.
    #[serde(skip)]
    pub also: Vec<Hash>,
}

impl OutputInfo {
    /// Intermediate stereo audio at `rate`.
    pub fn pcm(rate: u32, frames: u64, precision: Precision) -> Self {
        OutputInfo {
            sample_rate: rate,
            channels: 2,
            frames,
            precision,
            bits: None,
            float: false,
            measured: None,
            true_peak_channels: None,
            blocks: None,
            limiter_reduction: None,
            limiter_mean: None,
            solved_gain: None,
            limiter_ceiling: None,
            warnings: Vec::new(),
            notes: Vec::new(),
            also: Vec::new(),
        }
    }

    pub fn seconds(&self) -> f64 {
        self.frames as f64 / self.sample_rate as f64
    }
}

/// A [`LoudnessReport`] that survives JSON: silence reads as `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub integrated: Option<f64>,
    pub range: Option<f64>,
    pub true_peak: Option<f64>,
    pub sample_peak: Option<f64>,
    pub max_momentary: Option<f64>,
    pub max_short_term: Option<f64>,
}

impl From<LoudnessReport> for Measured {
    fn from(r: LoudnessReport) -> Self {
        let finite = |x: f64| x.is_finite().then_some((x * 1000.0).round() / 1000.0);
        Measured {
            integrated: finite(r.integrated),
            range: finite(r.range),
            true_peak: finite(r.true_peak),
            sample_peak: finite(r.sample_peak),
            max_momentary: finite(r.max_momentary),
            max_short_term: finite(r.max_short_term),
        }
    }
}

/// A finished step: its output hash and what is known of the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutput {
    pub hash: Hash,
    pub info: OutputInfo,
}

/// Decodes a source file completely: its output identity is the hash of
/// its audio (samples, rate, channels), not of its bytes, so a file
/// re-saved with new tags or another header but the same audio changes
/// nothing downstream.
pub fn read_source(path: &std::path::Path) -> Result<StepOutput, AudioError> {
    let mut file = DecodedFile::open(path)?;
    let info = file.info().clone();
    let mut hasher = AudioHasher::default();
    hasher.hasher.update(&info.sample_rate.to_le_bytes());
    hasher.hasher.update(&(info.channels as u16).to_le_bytes());
    let frames = bounce_nodes::copy_source(&mut file, &mut hasher)?;
    Ok(StepOutput {
        hash: Hash::from_blake3(hasher.hasher.finalize()),
        info: OutputInfo {
            channels: info.channels as u16,
            float: info.float,
            ..OutputInfo::pcm(info.sample_rate, frames, info.precision())
        },
    })
}

/// A sink that hashes the samples it is given.
#[derive(Default)]
struct AudioHasher {
    hasher: blake3::Hasher,
    scratch: Vec<u8>,
}

impl BlockSink for AudioHasher {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        self.scratch.clear();
        for (l, r) in left.iter().zip(right) {
            self.scratch.extend_from_slice(&l.to_le_bytes());
            self.scratch.extend_from_slice(&r.to_le_bytes());
        }
        self.hasher.update(&self.scratch);
        Ok(())
    }
}

/// An input of a step as the step sees it.
pub struct Input<'a> {
    pub step: &'a Step,
    pub output: &'a StepOutput,
}

/// Renders steps into the cache at the release's processing rate.
pub struct Renderer<'c> {
    pub cache: &'c Cache,
    pub rate: u32,
    pub measures: &'c Measures,
}

/// What one build measured of each distinct stream of PCM samples. A WAV
/// and a FLAC of one master at one rate and depth carry the same samples
/// (their dither is seeded by the samples' origin, not the file), so the
/// second to render takes the first's measurement instead of metering
/// the same samples again (or, when both render at once, meters them too
/// rather than wait).
#[derive(Default)]
pub struct Measures(Mutex<HashMap<Hash, Arc<Mutex<Option<Measurement>>>>>);

/// What a stream's file measured.
type Measurement = bounce_nodes::Written;

impl Measures {
    fn slot(&self, samples: Hash) -> Arc<Mutex<Option<Measurement>>> {
        self.0
            .lock()
            .expect("measures lock")
            .entry(samples)
            .or_default()
            .clone()
    }
}

type Open<'a> = Box<dyn FnMut() -> Result<Box<dyn BlockSource>, AudioError> + 'a>;

impl Renderer<'_> {
    /// Keeps a finished output: in scratch for a transient step, in the
    /// blob store otherwise.
    pub(crate) fn commit(
        &self,
        step: &Step,
        temp: bounce_cache::TempFile,
    ) -> Result<Hash, BuildError> {
        Ok(match step.kind.is_transient() {
            true => self.cache.commit_scratch(temp)?,
            false => self.cache.commit_blob(temp)?,
        })
    }

    /// Keeps `bytes` (a small output: a CUE sheet, a gain, an inspection)
    /// in the blob store, through a temp file of `kind`.
    pub(crate) fn commit_bytes(&self, kind: &str, bytes: &[u8]) -> Result<Hash, BuildError> {
        let temp = self.cache.temp_file(kind);
        std::fs::write(temp.path(), bytes).map_err(|source| BuildError::Output {
            path: temp.path().to_path_buf(),
            source,
        })?;
        Ok(self.cache.commit_blob(temp)?)
    }

    /// Renders `step` (not a source: those are read, not rendered).
    pub fn render(&self, step: &Step, inputs: &[Input]) -> Result<StepOutput, BuildError> {
        match &step.action {
            Action::ReadFile { .. } | Action::Tone { .. } => {
                unreachable!("sources are read by the scheduler")
            }
            Action::Stem { chain, offset } => {
                let source = &inputs[0];
                let mono = source.output.info.channels == 1;
                let chain: Vec<ProcessorSpec> =
                    chain.iter().map(|p| p.resolve_pan_law(mono)).collect();
                let resample = source.output.info.sample_rate != self.rate;
                let precision = if resample || !chain.iter().all(ProcessorSpec::is_identity) {
                    Precision::Float
                } else {
                    source.output.info.precision
                };
                let offset_frames = (offset * self.rate as f64).round() as u64;
                let open = self.source_opener(source, resample);
                self.render_pcm(step, open, &chain, (0, true), offset_frames, precision)
            }
            Action::Bus { chain } => {
                let chain: Vec<_> = chain.iter().map(|p| p.resolve_pan_law(false)).collect();
                let frames = inputs
                    .iter()
                    .map(|i| i.output.info.frames)
                    .max()
                    .unwrap_or(0);
                let precision = self.sum_precision(inputs, &chain);
                self.render_pcm(
                    step,
                    self.mixer(inputs, None),
                    &chain,
                    (frames, true),
                    0,
                    precision,
                )
            }
            Action::Mix { chain, length } => {
                let frames = match length {
                    Some(seconds) => (seconds * self.rate as f64).round() as u64,
                    None => inputs
                        .iter()
                        .map(|i| i.output.info.frames)
                        .max()
                        .unwrap_or(0),
                };
                let chain: Vec<_> = chain.iter().map(|p| p.resolve_pan_law(false)).collect();
                let precision = self.sum_precision(inputs, &chain);
                self.render_pcm(
                    step,
                    self.mixer(inputs, Some(frames)),
                    &chain,
                    (frames, false),
                    0,
                    precision,
                )
            }
            Action::Master {
                chain,
                target,
                limit,
                album,
            } => {
                let chain: Vec<_> = chain.iter().map(|p| p.resolve_pan_law(false)).collect();
                match limit.as_ref().and_then(LimiterSettings::from_spec) {
                    Some(settings) => {
                        // The album step's gain and the ceiling it verified.
                        let album_gain = album.then(|| {
                            let info = &inputs[1].output.info;
                            (
                                info.solved_gain.unwrap_or(0.0),
                                info.limiter_ceiling.unwrap_or(settings.ceiling),
                            )
                        });
                        self.render_master(
                            step,
                            &chain,
                            *target,
                            settings,
                            album_gain,
                            &inputs[..1],
                        )
                    }
                    None => {
                        let frames = inputs[0].output.info.frames;
                        let precision = self.sum_precision(inputs, &chain);
                        let mut output = self.render_pcm(
                            step,
                            self.mixer(inputs, None),
                            &chain,
                            (frames, false),
                            0,
                            precision,
                        )?;
                        // A level set with nothing to hold the peaks: the
                        // trap of `loudness` in a master without a ceiling.
                        let levels = chain
                            .iter()
                            .any(|p| matches!(p, ProcessorSpec::Loudness { .. }));
                        let limits = chain
                            .iter()
                            .any(|p| matches!(p, ProcessorSpec::Limit { .. }));
                        if levels && !limits {
                            output.info.warnings.push(
                                "the master sets a loudness but has no ceiling, so nothing holds its true peaks \
                                 (services ask for -1 dBTP): write `target=LUFS ceiling=-1.0` on the master"
                                    .into(),
                            );
                        }
                        Ok(output)
                    }
                }
            }
            Action::AlbumGain {
                chain,
                target,
                limit,
            } => {
                let chain: Vec<_> = chain.iter().map(|p| p.resolve_pan_law(false)).collect();
                let settings =
                    LimiterSettings::from_spec(limit).expect("an album step's limit is a limiter");
                self.render_album_gain(step, &chain, *target, settings, inputs)
            }
            Action::CdImage { gaps } => self.cd_image(step, inputs, gaps),
            Action::CueSheet { text, gaps } => self.cue_sheet(step, inputs, text, gaps),
            Action::Tag { container, fields } => self.tag(step, inputs, *container, fields),
            Action::AlbumReplayGain => self.album_replay_gain(step, inputs),
            Action::Inspect => self.inspect(step, &inputs[0]),
            Action::Preview { codec } => self.preview(step, &inputs[0], *codec),
            Action::CodecDifference => {
                self.codec_difference(step, &inputs[0], &inputs[1], &inputs[2])
            }
            Action::Export => {
                let frames = inputs[1].output.info.frames;
                let precision = inputs[0].output.info.precision;
                let open = self.mixer(&inputs[..1], Some(frames));
                self.render_pcm(step, open, &[], (frames, false), 0, precision)
            }
            Action::Resample { rate } => self.render_resampled(step, &inputs[0], *rate),
            Action::Fit {
                rate,
                ceiling,
                keep_loudness,
            } => {
                let target = keep_loudness
                    .then(|| inputs[0].output.info.measured.and_then(|m| m.integrated))
                    .flatten();
                // The resampled master when the rate differs, else the master.
                let audio = inputs.last().expect("a fit has its master");
                self.render_fit(step, audio, *rate, *ceiling, target)
            }
            Action::Encode {
                container,
                bits,
                float,
                rate,
                dither,
                mp3,
                ceiling,
                keep_loudness,
                check,
            } => {
                let format = PcmFormat {
                    sample_rate: *rate,
                    bits: *bits,
                    float: *float,
                    container: *container,
                };
                let master = &inputs[0];
                // Every file keeps its master's loudness as delivered; an
                // MP3's is what its decoder plays (see `encode`).
                let target = keep_loudness
                    .then(|| master.output.info.measured.and_then(|m| m.integrated))
                    .flatten();
                let file = FileSpec {
                    format,
                    dither: *dither,
                    mp3: *mp3,
                };
                let at_rate = inputs.get(1);
                let resampled = inputs.get(2);
                let output = self.encode(
                    step,
                    EncodeInputs {
                        master,
                        at_rate,
                        resampled,
                    },
                    &file,
                    *ceiling,
                    target,
                )?;
                if let Some(check) = check {
                    check_spec(step, check, &output)?;
                }
                Ok(output)
            }
        }
    }

    /// Opens a stem's source, resampled to the processing rate if needed.
    fn source_opener<'a>(&self, source: &'a Input, resample: bool) -> Open<'a> {
        let rate = self.rate;
        let from = source.output.info.sample_rate;
        Box::new(move || {
            let base: Box<dyn BlockSource> = match &source.step.action {
                Action::ReadFile { path } => Box::new(DecodedFile::open(path)?),
                Action::Tone {
                    freq,
                    level,
                    length,
                } => Box::new(Tone::new(
                    rate,
                    *freq,
                    *level,
                    (length * rate as f64).round() as u64,
                )),
                _ => unreachable!("a stem reads a source"),
            };
            Ok(if resample {
                Box::new(Resampled::new(base, from, rate)?)
            } else {
                base
            })
        })
    }

    /// Sums the inputs' outputs in order, optionally fitted to `frames`.
    fn mixer<'a>(&'a self, inputs: &'a [Input], frames: Option<u64>) -> Open<'a> {
        Box::new(move || {
            let mut readers: Vec<Box<dyn BlockSource>> = Vec::new();
            for input in inputs {
                readers.push(Box::new(open_blob(self.cache, &input.output.hash)?));
            }
            let mixer = Mixer::new(readers);
            Ok(match frames {
                Some(frames) => Box::new(Fit::new(mixer, frames)),
                None => Box::new(mixer),
            })
        })
    }

    fn sum_precision(&self, inputs: &[Input], chain: &[ProcessorSpec]) -> Precision {
        if !chain.iter().all(ProcessorSpec::is_identity) {
            return Precision::Float;
        }
        inputs
            .iter()
            .map(|i| i.output.info.precision)
            .reduce(Precision::combine)
            .unwrap_or(Precision::Float)
    }

    /// Runs a chain into a new intermediate blob.
    fn render_pcm(
        &self,
        step: &Step,
        mut open: Open,
        chain: &[ProcessorSpec],
        (total_frames, ring_out): (u64, bool),
        lead_in: u64,
        precision: Precision,
    ) -> Result<StepOutput, BuildError> {
        let audio = &Self::audio(step);
        let temp = self.cache.temp_file(step.kind.name());
        let mut writer = PcmWriter::create(temp.path(), self.rate, precision).map_err(audio)?;
        let silence = vec![0.0f32; BLOCK_FRAMES];
        let mut remaining = lead_in;
        while remaining > 0 {
            let n = remaining.min(BLOCK_FRAMES as u64) as usize;
            writer.write(&silence[..n], &silence[..n]).map_err(audio)?;
            remaining -= n as u64;
        }
        let context = ChainContext {
            sample_rate: self.rate,
            total_frames,
            ring_out,
        };
        render_chain(&mut open, chain, &context, &mut writer).map_err(audio)?;
        let frames = writer.finish().map_err(audio)?;
        let hash = self.commit(step, temp)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo::pcm(self.rate, frames, precision),
        })
    }
}
