//! Running one step: reading its inputs' outputs, rendering, storing.
//! The mixing of stems, buses and mixes is here; masters, resampling and
//! fits, encoding, tags and the CD each have their file.

mod at_rate;
mod disc;
mod encode;
mod feed;
mod inspect;
pub(crate) use inspect::Comparison;
mod master;
mod tag;

use encode::{check_spec, EncodeInputs};
pub(crate) use encode::{FileSpec, ATTEMPTS, LOUDNESS_SLACK};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bounce_cache::{Cache, Hash};

use bounce_nodes::processors::DuckKey;
use bounce_nodes::{
    render_chain, AudioError, BlockSink, BlockSource, ChainContext, DecodedFile, Fit,
    LoudnessReport, Mixer, PcmFormat, PcmReader, PcmWriter, Precision, ProcessorSpec, Resampled,
    Tone, Trimmed, BLOCK_FRAMES,
};
use serde::{Deserialize, Serialize};

use crate::error::BuildError;
use crate::model::Trim;
use crate::step::{Action, EncodeSettings, Step, StepRef};

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
    /// A file of text (a feed, a chapters file): no audio in it.
    pub fn text() -> Self {
        OutputInfo {
            channels: 0,
            ..Self::pcm(48000, 0, Precision::Float)
        }
    }

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
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub step: &'a Step,
    pub output: &'a StepOutput,
}

/// The finished inputs of one step, found by the names its action gives
/// them: the scheduler hands a step to the renderer only once every input
/// its action names is finished.
pub struct Inputs<'a> {
    finished: Vec<(StepRef, Input<'a>)>,
}

impl<'a> Inputs<'a> {
    /// `finished` holds an output for each input of the step's action.
    pub fn new(finished: Vec<(StepRef, Input<'a>)>) -> Self {
        Inputs { finished }
    }

    /// The output of input `step`.
    pub fn of(&self, step: StepRef) -> Input<'a> {
        self.finished
            .iter()
            .find(|(s, _)| *s == step)
            .map(|(_, input)| *input)
            .expect("the scheduler finishes every input a step's action names")
    }

    /// The outputs of `steps`, in their order.
    pub fn each(&self, steps: &[StepRef]) -> Vec<Input<'a>> {
        steps.iter().map(|s| self.of(*s)).collect()
    }

    /// Every input, in the action's order (the order their hashes enter
    /// the step's key).
    pub fn iter(&self) -> impl Iterator<Item = Input<'a>> + '_ {
        self.finished.iter().map(|(_, input)| *input)
    }
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

    /// Renders `step` (not a source: those are read, not rendered) from
    /// its finished `inputs`.
    pub fn render(&self, step: &Step, inputs: &Inputs) -> Result<StepOutput, BuildError> {
        match &step.action {
            Action::ReadFile { .. } | Action::Tone { .. } => {
                unreachable!("sources are read by the scheduler")
            }
            Action::Stem {
                chain,
                offset,
                trim,
                source,
                keys,
            } => {
                let keys = inputs.each(keys);
                let source = inputs.of(*source);
                self.render_stem(step, chain, (*offset, trim.clone()), source, &keys)
            }
            Action::Bus {
                chain,
                members,
                keys,
            } => {
                let members = inputs.each(members);
                let frames = members.iter().map(|i| i.output.info.frames).max();
                // A bus starts at the track's start: its key does too.
                let chain = self.with_duck_key(step, chain.clone(), &inputs.each(keys), 0)?;
                self.render_sum(step, &chain, &members, (frames.unwrap_or(0), true), None)
            }
            Action::Mix {
                chain,
                length,
                parts,
            } => {
                let parts = inputs.each(parts);
                let frames = match length {
                    Some(seconds) => (seconds * self.rate as f64).round() as u64,
                    None => parts
                        .iter()
                        .map(|i| i.output.info.frames)
                        .max()
                        .unwrap_or(0),
                };
                self.render_sum(step, chain, &parts, (frames, false), Some(frames))
            }
            Action::Master {
                chain,
                target,
                limit,
                album_gain,
                mix,
            } => {
                let album_gain = album_gain.map(|album| inputs.of(album));
                self.render_master_step(step, chain, *target, *limit, album_gain, inputs.of(*mix))
            }
            Action::AlbumGain {
                chain,
                target,
                limit,
                mixes,
            } => {
                let chain: Vec<_> = chain.iter().map(|p| p.resolve_pan_law(false)).collect();
                self.render_album_gain(step, &chain, *target, *limit, &inputs.each(mixes))
            }
            Action::CdImage { gaps, files } => self.cd_image(step, &inputs.each(files), gaps),
            Action::Text { text } => Ok(StepOutput {
                hash: self.commit_bytes(step.kind.name(), text.as_bytes())?,
                info: OutputInfo::text(),
            }),
            Action::Feed { feed, files } => self.feed(feed, &inputs.each(files)),
            Action::CueSheet { text, gaps, files } => {
                self.cue_sheet(step, &inputs.each(files), text, gaps)
            }
            Action::Tag {
                container,
                fields,
                encoded,
                album,
            } => {
                let album = album.map(|a| inputs.of(a));
                self.tag(step, inputs.of(*encoded), album, *container, fields)
            }
            Action::AlbumReplayGain { files } => self.album_replay_gain(step, &inputs.each(files)),
            Action::Inspect { file } => self.inspect(step, &inputs.of(*file)),
            Action::Preview { codec, lossless } => {
                self.preview(step, &inputs.of(*lossless), *codec)
            }
            Action::CodecDifference {
                lossy,
                lossless,
                inspection,
            } => self.codec_difference(
                step,
                &inputs.of(*lossy),
                &inputs.of(*lossless),
                &inputs.of(*inspection),
            ),
            Action::Export { audio, mix } => {
                let (audio, frames) = (inputs.of(*audio), inputs.of(*mix).output.info.frames);
                let precision = audio.output.info.precision;
                let open = self.mixer(std::slice::from_ref(&audio), Some(frames));
                self.render_pcm(step, open, &[], (frames, false), 0, precision)
            }
            Action::Resample { rate, master } => {
                self.render_resampled(step, &inputs.of(*master), *rate)
            }
            Action::Fit {
                rate,
                ceiling,
                keep_loudness,
                master,
                resampled,
            } => {
                let master = inputs.of(*master);
                let target = keep_loudness
                    .then(|| master.output.info.measured.and_then(|m| m.integrated))
                    .flatten();
                // The resampled master when the rate differs, else the master.
                let audio = resampled.map_or(master, |r| inputs.of(r));
                self.render_fit(step, &audio, *rate, *ceiling, target)
            }
            Action::Encode {
                file,
                master,
                fit,
                resampled,
            } => {
                let master = inputs.of(*master);
                let at_rate = fit.map(|f| inputs.of(f));
                let resampled = resampled.map(|r| inputs.of(r));
                let from = EncodeInputs {
                    master: &master,
                    at_rate: at_rate.as_ref(),
                    resampled: resampled.as_ref(),
                };
                self.render_file(step, file, from)
            }
        }
    }

    /// A master: with a limiter, its chain, solved gain (or the album
    /// step's) and limiting; without, its chain over the mix.
    fn render_master_step(
        &self,
        step: &Step,
        chain: &[ProcessorSpec],
        target: Option<f64>,
        limit: Option<bounce_nodes::LimiterSettings>,
        album_gain: Option<Input>,
        mix: Input,
    ) -> Result<StepOutput, BuildError> {
        let Some(limiter) = limit else {
            return self.render_sum(step, chain, &[mix], (mix.output.info.frames, false), None);
        };
        let chain: Vec<_> = chain.iter().map(|p| p.resolve_pan_law(false)).collect();
        // The album step's gain and the ceiling it verified.
        let album_gain = album_gain.map(|album| {
            let info = &album.output.info;
            (
                info.solved_gain.unwrap_or(0.0),
                info.limiter_ceiling.unwrap_or(limiter.ceiling),
            )
        });
        self.render_master(step, &chain, target, limiter, album_gain, mix)
    }

    /// A deliverable's file, checked against its standard if it has one.
    fn render_file(
        &self,
        step: &Step,
        settings: &EncodeSettings,
        from: EncodeInputs,
    ) -> Result<StepOutput, BuildError> {
        // Every file keeps its master's loudness as delivered; an MP3's is
        // what its decoder plays (see `encode`).
        // A mono file's one channel reads 3.01 dB under the master that
        // carries it on both channels (BS.1770-4 weighs channels once).
        let as_file = |loudness: f64| match settings.channels {
            1 => loudness - bounce_nodes::DUAL_MONO_GAIN_DB,
            _ => loudness,
        };
        let target = settings
            .keep_loudness
            .then(|| from.master.output.info.measured.and_then(|m| m.integrated))
            .flatten()
            .map(as_file);
        let file = FileSpec {
            format: PcmFormat {
                sample_rate: settings.rate,
                bits: settings.bits,
                float: settings.float,
                container: settings.container,
                channels: settings.channels,
            },
            dither: settings.dither,
            mp3: settings.mp3,
        };
        let output = self.encode(step, from, &file, settings.ceiling, target)?;
        if let Some(check) = &settings.check {
            check_spec(step, check, &output)?;
        }
        Ok(output)
    }

    /// A source through its stem's chain, placed at its offset.
    fn render_stem(
        &self,
        step: &Step,
        chain: &[ProcessorSpec],
        (offset, trim): (f64, Trim),
        source: Input,
        keys: &[Input],
    ) -> Result<StepOutput, BuildError> {
        let mono = source.output.info.channels == 1;
        let offset_frames = (offset * self.rate as f64).round() as u64;
        let chain: Vec<ProcessorSpec> = chain.iter().map(|p| p.resolve_pan_law(mono)).collect();
        let chain = self.with_duck_key(step, chain, keys, offset_frames)?;
        let resample = source.output.info.sample_rate != self.rate;
        let precision = if resample || !chain.iter().all(ProcessorSpec::is_identity) {
            Precision::Float
        } else {
            source.output.info.precision
        };
        let open = self.source_opener(source, trim, resample);
        self.render_pcm(step, open, &chain, (0, true), offset_frames, precision)
    }

    /// `chain` with its `duck`s given their key, read from the `keys`
    /// stems from `from` frames into the track.
    fn with_duck_key(
        &self,
        step: &Step,
        mut chain: Vec<ProcessorSpec>,
        keys: &[Input],
        from: u64,
    ) -> Result<Vec<ProcessorSpec>, BuildError> {
        if keys.is_empty() {
            return Ok(chain);
        }
        let key = self.duck_key(step, keys, from)?;
        for spec in &mut chain {
            if let ProcessorSpec::Duck { key: slot, .. } = spec {
                *slot = Some(key.clone());
            }
        }
        Ok(chain)
    }

    /// A ducker's key (see [`bounce_nodes::processors::key_of`]) from the
    /// sum of the `keys` stems, from `from` frames into the track (the
    /// ducked signal's first frame).
    fn duck_key(&self, step: &Step, keys: &[Input], from: u64) -> Result<DuckKey, BuildError> {
        let audio = &Self::audio(step);
        let sum = (self.mixer(keys, None))().map_err(audio)?;
        let mut from_its_start = Trimmed::new(sum, from, None);
        bounce_nodes::processors::key_of(&mut from_its_start, self.rate).map_err(audio)
    }

    /// The sum of `parts` through `chain` (a bus's, a mix's, or a master's
    /// without a target), `length` frames long, fitted to `fit` if given.
    fn render_sum(
        &self,
        step: &Step,
        chain: &[ProcessorSpec],
        parts: &[Input],
        length: (u64, bool),
        fit: Option<u64>,
    ) -> Result<StepOutput, BuildError> {
        let chain: Vec<_> = chain.iter().map(|p| p.resolve_pan_law(false)).collect();
        let precision = self.sum_precision(parts, &chain);
        self.render_pcm(step, self.mixer(parts, fit), &chain, length, 0, precision)
    }

    /// Opens a stem's source, trimmed and edited at its own rate (so its
    /// in and out points and cuts are its samples), resampled to the
    /// processing rate if needed.
    fn source_opener<'a>(&self, source: Input<'a>, trim: Trim, resample: bool) -> Open<'a> {
        let rate = self.rate;
        let from = source.output.info.sample_rate;
        let edits = (!trim.is_plain()).then(|| trim.edit_list(from, source.output.info.frames));
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
            let base: Box<dyn BlockSource> = match (&edits, trim.is_whole()) {
                (Some(list), _) => {
                    list.check().map_err(AudioError::Edit)?;
                    Box::new(bounce_nodes::Edited::new(base, list.clone()))
                }
                (None, true) => base,
                (None, false) => {
                    let (skip, take) = trim.frames(from);
                    Box::new(Trimmed::new(base, skip, take))
                }
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
