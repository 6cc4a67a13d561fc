//! Running one step: reading its inputs' outputs, rendering, storing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bounce_cache::{Cache, Hash};

use bounce_nodes::{
    render_chain, AudioError, BlockSink, BlockSource, ChainContext, DecodedFile, Dither, Fit,
    LoudnessReport, Mixer, Mp3Mode, Mp3Sink, Overs, PcmReader, PcmWriter, Precision, ProcessorSpec,
    Resampled, Scaled, Tone, WavFormat, WavSink, BLOCK_FRAMES,
};
use bounce_nodes::{render_limited, LimiterSettings};
use serde::{Deserialize, Serialize};

use crate::step::{Action, Step, TagFields};
use crate::BuildError;

/// How far under the ceiling a limiter starts, dB. It detects on an 8×
/// grid and the BS.1770 points; the strict meter's 16× points read a few
/// hundredths of a dB higher on music (0.015 to 0.046 dB seen on masters,
/// 0.02 on a file limited again after resampling), which cost a second
/// round of rendering. Starting this much lower keeps one round (and
/// leaves room for dither's few LSB); the strict check still decides.
pub(crate) const GRID_MARGIN_DB: f64 = 0.05;

/// Tries at bringing a delivered file to its ceiling and loudness.
pub(crate) const ATTEMPTS: usize = 6;
/// How far a resampled file's loudness may sit from its master's, LU.
pub(crate) const LOUDNESS_SLACK: f64 = 0.05;
/// How far a decoded MP3 may land from its target before it is encoded
/// again, LU: the ±0.1 LU every delivered file is held to. LAME at 320
/// kbps takes off about 0.05 LU, which is not worth a second encode.
const CODEC_LOUDNESS_SLACK: f64 = 0.1;

/// Where a resampled file is first limited, under its ceiling.
pub(crate) fn first_limit(ceiling: Option<f64>) -> Option<f64> {
    ceiling.map(|c| c - GRID_MARGIN_DB)
}

/// The limiter a resampled file goes through at its own rate.
pub(crate) fn file_limiter(ceiling: f64) -> LimiterSettings {
    LimiterSettings {
        ceiling,
        release_ms: 50.0,
        lookahead_ms: 1.5,
    }
}

/// What a deliverable's attempt encodes: the shared resample step's audio,
/// or the master, trimmed and (if resampled) limited at the file's rate.
enum Prepared<'a> {
    AtRate { audio: &'a Input<'a>, gain_db: f64 },
    Master { limit_at: Option<f64>, trim_db: f64 },
}

/// A deliverable's encoder, which tells what a listener will measure.
trait EncodedSink: BlockSink {
    /// Finishes the file; returns its frames and loudness as delivered.
    fn finish_and_measure(
        self: Box<Self>,
        path: &std::path::Path,
    ) -> Result<(u64, LoudnessReport), AudioError>;

    /// Samples past full scale the encoder had to clip.
    fn clipped(&self) -> Overs {
        Overs::default()
    }
}

impl EncodedSink for WavSink {
    fn clipped(&self) -> Overs {
        self.overs()
    }

    /// PCM is measured on the way in: the samples written are the file.
    fn finish_and_measure(
        self: Box<Self>,
        _: &std::path::Path,
    ) -> Result<(u64, LoudnessReport), AudioError> {
        self.finish()
    }
}

impl EncodedSink for Mp3Sink {
    /// An MP3 is measured decoded: the codec reshapes peaks.
    fn finish_and_measure(
        self: Box<Self>,
        path: &std::path::Path,
    ) -> Result<(u64, LoudnessReport), AudioError> {
        self.finish()?;
        bounce_nodes::measure_decoded(path)
    }
}

/// Where each track (an input) sits on the disc, after the Red Book
/// limits a project file cannot show: each track's length and the disc's.
fn red_book_layout(
    step: &Step,
    inputs: &[Input],
    gaps: &[u64],
) -> Result<Vec<bounce_nodes::TrackPlace>, BuildError> {
    let red_book = |problem: String| BuildError::RedBook {
        step: step.id.clone(),
        problem,
    };
    let samples: Vec<u64> = inputs.iter().map(|i| i.output.info.frames).collect();
    for (input, frames) in inputs.iter().zip(&samples) {
        let seconds = *frames as f64 / bounce_nodes::CD_RATE as f64;
        if seconds < bounce_nodes::MIN_CD_TRACK_SECONDS {
            return Err(red_book(format!(
                "track {} lasts {seconds:.2} s; a CD track lasts at least {} s",
                input.step.track.unwrap_or(0),
                bounce_nodes::MIN_CD_TRACK_SECONDS
            )));
        }
    }
    let places = bounce_nodes::lay_out(&samples, gaps);
    let end = places.last().map_or(0, |p| p.start + p.length);
    let seconds = end as f64 / 75.0;
    if seconds > bounce_nodes::MAX_CD_SECONDS {
        return Err(red_book(format!(
            "the disc lasts {}:{:05.2}; an 80-minute CD holds 79:57",
            (seconds / 60.0) as u64,
            seconds % 60.0
        )));
    }
    Ok(places)
}

/// A cached intermediate file, checked against its name as it is read.
pub(crate) fn open_blob(cache: &Cache, hash: &Hash) -> Result<PcmReader, AudioError> {
    PcmReader::verified(&cache.output_path(hash), *hash.as_bytes())
}

/// A file out of its delivery standard fails its step with the figures.
fn check_spec(
    step: &Step,
    check: &crate::step::SpecCheck,
    output: &StepOutput,
) -> Result<(), BuildError> {
    let measured = output.info.measured.as_ref();
    let loudness = measured
        .and_then(|m| m.integrated)
        .unwrap_or(f64::NEG_INFINITY);
    let true_peak = measured
        .and_then(|m| m.true_peak)
        .unwrap_or(f64::NEG_INFINITY);
    let loudness_ok =
        !check.per_file_loudness || (loudness - check.target).abs() <= check.tolerance;
    if loudness_ok && true_peak <= check.max_true_peak {
        return Ok(());
    }
    Err(BuildError::OutOfSpec {
        step: step.id.clone(),
        standard: check.standard.clone(),
        loudness,
        true_peak,
        target: check.target,
        tolerance: check.tolerance,
        max_true_peak: check.max_true_peak,
    })
}

/// ReplayGain 2.0 works against this reference.
const REPLAY_GAIN_REFERENCE: f64 = -18.0;

/// A file's integrated loudness, true peak (dB) and length, when measured.
fn loudness_figures(info: &OutputInfo) -> Option<(f64, f64, f64)> {
    let measured = info.measured?;
    Some((
        measured.integrated?,
        measured.true_peak?,
        info.frames as f64,
    ))
}

/// ReplayGain 2.0 for a file (first input) in its album (the second
/// input, an album ReplayGain step).
fn replay_gain(inputs: &[Input]) -> Option<bounce_nodes::ReplayGain> {
    let (loudness, peak, _) = loudness_figures(&inputs[0].output.info)?;
    let (album_loudness, album_peak, _) = loudness_figures(&inputs.get(1)?.output.info)?;
    let linear = |db: f64| 10f64.powf(db / 20.0);
    Some(bounce_nodes::ReplayGain {
        track_gain: REPLAY_GAIN_REFERENCE - loudness,
        track_peak: linear(peak),
        album_gain: REPLAY_GAIN_REFERENCE - album_loudness,
        album_peak: linear(album_peak),
    })
}

/// What a deliverable file is: its sample format and dither, or for an
/// MP3 its bitrate or VBR quality.
pub struct FileSpec {
    pub format: WavFormat,
    pub dither: Dither,
    pub mp3: Option<Mp3Mode>,
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
    /// What the user should know about this output, and may act on.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Routine corrections made to reach a target, recorded in the
    /// manifest rather than raised (nothing for the user to act on).
    #[serde(default)]
    pub notes: Vec<String>,
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
            limiter_reduction: None,
            solved_gain: None,
            limiter_ceiling: None,
            warnings: Vec::new(),
            notes: Vec::new(),
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
/// the same samples again; one waits while the other measures.
#[derive(Default)]
pub struct Measures(Mutex<HashMap<Hash, Arc<Mutex<Option<Measurement>>>>>);

/// A stream's frames, loudness and clipped samples.
type Measurement = (u64, LoudnessReport, Overs);

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
                let format = WavFormat {
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
                let output = self.encode(step, master, at_rate, &file, *ceiling, target)?;
                if let Some(check) = check {
                    check_spec(step, check, &output)?;
                }
                Ok(output)
            }
        }
    }

    /// The album's loudness, measured as one programme (every file of the
    /// deliverable, in order, through one BS.1770 meter, so the gates
    /// apply to the album as ReplayGain 2.0 asks), and its peak (the
    /// highest file's), rounded as tags print them: the output is a tiny
    /// blob that changes only when the album figures do.
    fn album_replay_gain(&self, step: &Step, inputs: &[Input]) -> Result<StepOutput, BuildError> {
        let audio = &Self::audio(step);
        let rate = inputs
            .first()
            .map_or(self.rate, |i| i.output.info.sample_rate);
        let mut meter = bounce_nodes::LoudnessMeter::integrated_only(rate).map_err(audio)?;
        let mut frames = 0;
        for input in inputs {
            let mut file =
                DecodedFile::open(&self.cache.blob_path(&input.output.hash)).map_err(audio)?;
            frames += bounce_nodes::copy_source(&mut file, &mut meter).map_err(audio)?;
        }
        let measured = meter.report().map_err(audio)?.integrated;
        let loudness = (measured * 100.0).round() / 100.0;
        let peak = inputs
            .iter()
            .filter_map(|i| loudness_figures(&i.output.info))
            .map(|(_, p, _)| p)
            .fold(f64::NEG_INFINITY, f64::max);
        let peak = (peak * 1000.0).round() / 1000.0;
        let temp = self.cache.temp_file("replaygain");
        std::fs::write(
            temp.path(),
            format!("album loudness {loudness} LUFS, peak {peak} dBTP\n"),
        )
        .map_err(|source| BuildError::Output {
            path: temp.path().to_path_buf(),
            source,
        })?;
        let hash = self.cache.commit_blob(temp)?;
        let finite = |x: f64| x.is_finite().then_some(x);
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                measured: Some(Measured {
                    integrated: finite(loudness),
                    range: None,
                    true_peak: finite(peak),
                    sample_peak: None,
                    max_momentary: None,
                    max_short_term: None,
                }),
                ..OutputInfo::pcm(rate, frames, Precision::Float)
            },
        })
    }

    /// Joins the tracks' CD files into one image after checking them
    /// against the Red Book.
    fn cd_image(
        &self,
        step: &Step,
        inputs: &[Input],
        gaps: &[u64],
    ) -> Result<StepOutput, BuildError> {
        let places = red_book_layout(step, inputs, gaps)?;
        let audio = &Self::audio(step);
        let mut tracks: Vec<Box<dyn BlockSource>> = Vec::new();
        for input in inputs {
            let path = self.cache.blob_path(&input.output.hash);
            tracks.push(Box::new(DecodedFile::open(&path).map_err(audio)?));
        }
        let format = WavFormat {
            sample_rate: bounce_nodes::CD_RATE,
            bits: bounce_nodes::CD_BITS,
            float: false,
            container: bounce_nodes::Container::Wav,
        };
        let temp = self.cache.temp_file("image");
        // The tracks are 16-bit already: no dither, the samples go through.
        let mut sink =
            WavSink::create(temp.path(), format, Dither::None, 0, None, None).map_err(audio)?;
        bounce_nodes::write_image(tracks, &places, &mut sink).map_err(audio)?;
        let (frames, report) = sink.finish().map_err(audio)?;
        let hash = self.cache.commit_blob(temp)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                bits: Some(format.bits),
                measured: Some(report.into()),
                ..OutputInfo::pcm(format.sample_rate, frames, Precision::Int(16))
            },
        })
    }

    /// Writes the CUE sheet of the image the same tracks and gaps make.
    fn cue_sheet(
        &self,
        step: &Step,
        inputs: &[Input],
        text: &bounce_nodes::CueText,
        gaps: &[u64],
    ) -> Result<StepOutput, BuildError> {
        let places = red_book_layout(step, inputs, gaps)?;
        let sheet = bounce_nodes::cue_sheet(text, &places);
        let temp = self.cache.temp_file("cue");
        std::fs::write(temp.path(), sheet).map_err(|source| BuildError::Output {
            path: temp.path().to_path_buf(),
            source,
        })?;
        let hash = self.cache.commit_blob(temp)?;
        let frames =
            places.last().map_or(0, |p| p.start + p.length) * bounce_nodes::SAMPLES_PER_CD_FRAME;
        Ok(StepOutput {
            hash,
            info: OutputInfo::pcm(bounce_nodes::CD_RATE, frames, Precision::Int(16)),
        })
    }

    /// Copies the encoded file (first input) and writes its tags, with
    /// ReplayGain 2.0 from the measured loudness of it and its album.
    fn tag(
        &self,
        step: &Step,
        inputs: &[Input],
        container: bounce_nodes::Container,
        fields: &TagFields,
    ) -> Result<StepOutput, BuildError> {
        let audio = &Self::audio(step);
        let cover = match &fields.cover_path {
            Some(path) => Some(bounce_nodes::Cover::read(path).map_err(|reason| {
                audio(AudioError::Cover {
                    path: path.clone(),
                    reason,
                })
            })?),
            None => None,
        };
        let tags = bounce_nodes::Tags {
            text: fields.text.clone(),
            cover,
            replay_gain: replay_gain(inputs),
        };
        let temp = self.cache.temp_file("tag");
        let encoded = self.cache.blob_path(&inputs[0].output.hash);
        std::fs::copy(&encoded, temp.path()).map_err(|source| BuildError::Output {
            path: temp.path().to_path_buf(),
            source,
        })?;
        tags.write(temp.path(), container).map_err(audio)?;
        let hash = self.cache.commit_blob(temp)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                warnings: Vec::new(),
                ..inputs[0].output.info.clone()
            },
        })
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

    /// Encodes the master, then verifies the delivered file: the ceiling
    /// always, and the loudness target when the file was resampled (which
    /// can drop content above the new Nyquist and reshape peaks). A file that
    /// misses is encoded again with its level corrected; the limiter at the
    /// file's rate keeps the ceiling while loudness is raised.
    #[allow(clippy::too_many_arguments)]
    fn encode(
        &self,
        step: &Step,
        master: &Input,
        at_rate: Option<&Input>,
        file: &FileSpec,
        ceiling: Option<f64>,
        target: Option<f64>,
    ) -> Result<StepOutput, BuildError> {
        let format = file.format;
        let resampled = format.sample_rate != self.rate;
        // The resample step corrected the level and the limiter's ceiling
        // already; a later attempt starts from there.
        let start_trim = at_rate
            .and_then(|a| a.output.info.solved_gain)
            .unwrap_or(0.0);
        let mut trim = start_trim;
        // On a resampled file the limiter at the file's rate keeps the
        // ceiling; an over lowers its ceiling, not the whole file.
        let mut limit_at = at_rate
            .and_then(|a| a.output.info.limiter_ceiling)
            .or(first_limit(ceiling));
        // A lossy codec takes loudness off too (LAME at 128 kbps about
        // 0.45 dB): an MP3 that lands low is raised once through its own
        // limiter, unless the codec has already pushed a peak over the
        // ceiling, when the ceiling comes first. What one raise cannot
        // make up (a limiter with no room left) is a warning, not a
        // failure: the master met its target.
        let mp3 = file.mp3.is_some();
        let mut codec_over_seen = false;
        let mut raised = false;
        for attempt in 1..=ATTEMPTS {
            let output_limit = limit_at.filter(|_| resampled || mp3);
            // The first attempt's audio is the shared resample step's; an
            // MP3 lowered after it needs no limiter to stay under the
            // ceiling, so it is that audio lowered.
            let lowered_mp3 = file.mp3.is_some() && trim <= start_trim;
            let source = match at_rate.filter(|_| attempt == 1 || lowered_mp3) {
                Some(at_rate) => Prepared::AtRate {
                    audio: at_rate,
                    gain_db: trim - start_trim,
                },
                None => Prepared::Master {
                    limit_at: output_limit,
                    trim_db: trim,
                },
            };
            let (temp, frames, report, overs) = self.encode_once(step, master, file, source)?;
            let over = ceiling
                .map(|c| report.true_peak - c)
                .filter(|over| *over > 0.0);
            let chase_loudness = if mp3 {
                !codec_over_seen && !raised
            } else {
                resampled
            };
            let off = target
                .filter(|_| chase_loudness && report.integrated.is_finite())
                .map(|t| t - report.integrated)
                .filter(|off| {
                    off.abs()
                        > if mp3 {
                            CODEC_LOUDNESS_SLACK
                        } else {
                            LOUDNESS_SLACK
                        }
                });
            if over.is_none() && off.is_none() {
                let mut warnings = Vec::new();
                let mut notes = Vec::new();
                // An MP3's fit made its level; what the codec took off
                // after it is said on its own.
                let corrected = if file.mp3.is_some() { start_trim } else { trim };
                if mp3 && trim > start_trim {
                    notes.push(format!(
                        "level raised by {:+.2} dB on the delivered file: the MP3 codec took that much loudness off",
                        trim - start_trim
                    ));
                }
                let short = target
                    .filter(|_| mp3)
                    .map(|t| t - report.integrated)
                    .filter(|off| *off > CODEC_LOUDNESS_SLACK && report.integrated.is_finite());
                if let Some(short) = short {
                    warnings.push(format!(
                        "the decoded MP3 reads {:.2} LUFS, {short:.2} LU under its master: the codec took loudness off and its limiter had no room to give it back under the {:.1} dBTP ceiling",
                        report.integrated,
                        ceiling.unwrap_or(0.0)
                    ));
                }
                if corrected.abs() >= 0.005 {
                    let why = match (resampled, file.mp3.is_some()) {
                        (true, _) => format!(
                            "resampling to {} Hz changed its {}",
                            format.sample_rate,
                            if target.is_some() || start_trim != 0.0 { "loudness or peaks" } else { "peaks" }
                        ),
                        (false, true) => "limited lower to leave room for the MP3 codec's overshoot, its loudness restored".into(),
                        (false, false) => "its peaks passed the ceiling".into(),
                    };
                    notes.push(format!(
                        "level corrected by {corrected:+.2} dB on the delivered file: {why}"
                    ));
                }
                if file.mp3.is_some() && trim < start_trim {
                    warnings.push(format!(
                        "gain lowered by {:.2} dB: the decoded MP3 peaked over the {:.1} dBTP ceiling",
                        start_trim - trim,
                        ceiling.unwrap_or(0.0)
                    ));
                }
                if overs.samples > 0 {
                    warnings.push(format!(
                        "{} samples clipped: the audio peaks at {:+.2} dBFS, over the {}-bit file's full scale; give the master a ceiling or lower its level",
                        overs.samples,
                        bounce_nodes::gain_to_db(overs.peak as f64),
                        format.bits
                    ));
                }
                let hash = self.cache.commit_blob(temp)?;
                return Ok(StepOutput {
                    hash,
                    info: OutputInfo {
                        bits: file.mp3.is_none().then_some(format.bits),
                        float: format.float,
                        measured: Some(report.into()),
                        limiter_reduction: master.output.info.limiter_reduction,
                        warnings,
                        notes,
                        ..OutputInfo::pcm(
                            format.sample_rate,
                            frames,
                            if format.float || file.mp3.is_some() {
                                Precision::Float
                            } else {
                                Precision::Int(format.bits as u8)
                            },
                        )
                    },
                });
            }
            if attempt == ATTEMPTS {
                return Err(match over {
                    Some(_) => BuildError::CeilingMissed {
                        step: step.id.clone(),
                        true_peak: report.true_peak,
                        ceiling: ceiling.expect("over implies a ceiling"),
                        attempts: ATTEMPTS - 1,
                    },
                    None => BuildError::TargetMissed {
                        step: step.id.clone(),
                        target: target.expect("off implies a target"),
                        ceiling: ceiling.unwrap_or(0.0),
                        reached: report.integrated,
                        gain: trim,
                    },
                });
            }
            match (over, off) {
                // The codec, not resampling, made this over: lower the gain.
                (Some(over), _) if mp3 => {
                    codec_over_seen = true;
                    trim -= over + 0.02;
                }
                (Some(over), _) if resampled => {
                    limit_at = limit_at.map(|c| c - over - 0.005);
                }
                (Some(over), _) => trim -= over + 0.01,
                (None, Some(off)) => {
                    raised |= mp3;
                    trim += off;
                }
                (None, None) => unreachable!("handled above"),
            }
        }
        unreachable!("the loop returns")
    }

    fn encode_once(
        &self,
        step: &Step,
        master: &Input,
        file: &FileSpec,
        prepared: Prepared,
    ) -> Result<(bounce_cache::TempFile, u64, LoudnessReport, Overs), BuildError> {
        let format = file.format;
        let audio = &Self::audio(step);
        let (limit_at, trim_db) = match prepared {
            Prepared::AtRate {
                audio: at_rate,
                gain_db,
            } => {
                let reader = open_blob(self.cache, &at_rate.output.hash).map_err(audio)?;
                let source = Box::new(Scaled::new(reader, gain_db));
                let origin = Origin {
                    audio: at_rate.output.hash,
                    gain_db,
                    limit_at: None,
                };
                return self.encode_pcm(step, origin, file, source, None, Precision::Float);
            }
            Prepared::Master { limit_at, trim_db } => (limit_at, trim_db),
        };
        let reader = Scaled::new(
            open_blob(self.cache, &master.output.hash).map_err(audio)?,
            trim_db,
        );
        let resample = format.sample_rate != self.rate;
        let source: Box<dyn BlockSource> = if resample {
            Box::new(Resampled::new(reader, self.rate, format.sample_rate).map_err(audio)?)
        } else {
            Box::new(reader)
        };
        let precision = if resample || trim_db != 0.0 {
            Precision::Float
        } else {
            master.output.info.precision
        };
        let origin = Origin {
            audio: master.output.hash,
            gain_db: trim_db,
            limit_at,
        };
        self.encode_pcm(step, origin, file, source, limit_at, precision)
    }

    /// Encodes `source` (at the file's rate, of `precision`) into a file,
    /// through the limiter at `limit_at` if given, measuring what it wrote
    /// (or taking the measurement of the same samples in another file).
    #[allow(clippy::too_many_arguments)]
    fn encode_pcm(
        &self,
        step: &Step,
        origin: Origin,
        file: &FileSpec,
        mut source: Box<dyn BlockSource>,
        limit_at: Option<f64>,
        precision: Precision,
    ) -> Result<(bounce_cache::TempFile, u64, LoudnessReport, Overs), BuildError> {
        let (format, dither) = (file.format, file.dither);
        let audio = &Self::audio(step);
        // Dither only when bits are really lost: a signal already on a grid
        // at least as coarse as the file's goes in untouched.
        let needs_dither = match precision {
            Precision::Int(p) => p as u16 > format.bits,
            Precision::Float => true,
        };
        let dither = if !format.float && format.bits < 32 && needs_dither {
            dither
        } else {
            Dither::None
        };
        let temp = self.cache.temp_file("deliverable");
        // PCM samples follow from their origin, depth and dither: seeded by
        // them, the WAV and the FLAC of one fit are the same samples.
        let samples = origin.samples(format, dither, precision);
        let slot = file.mp3.is_none().then(|| self.measures.slot(samples));
        let mut known = slot.as_ref().map(|s| s.lock().expect("measure lock"));
        // A bext chunk needs the momentary and short-term maxima, which a
        // plain file's measurement leaves out.
        let measured = known
            .as_deref()
            .copied()
            .flatten()
            .filter(|(_, report, _)| {
                format.container != bounce_nodes::Container::Bwf || !report.max_momentary.is_nan()
            });
        let mut sink: Box<dyn EncodedSink> = match file.mp3 {
            Some(mode) => {
                Box::new(Mp3Sink::create(temp.path(), format.sample_rate, mode).map_err(audio)?)
            }
            None => Box::new(
                WavSink::create(
                    temp.path(),
                    format,
                    dither,
                    samples.seed(),
                    None,
                    measured.map(|(_, report, _)| report),
                )
                .map_err(audio)?,
            ),
        };

        match limit_at {
            // Resampling reshapes peaks (the band it removes took part in
            // them): limit again at the file's rate, which touches only the
            // few new overs, a hair under the ceiling to leave room for dither.
            Some(ceiling) => {
                let settings = file_limiter(ceiling);
                render_limited(
                    source,
                    format.sample_rate,
                    0.0,
                    settings,
                    None,
                    sink.as_mut(),
                )
                .map_err(audio)?;
            }
            _ => {
                bounce_nodes::copy_source(source.as_mut(), sink.as_mut()).map_err(audio)?;
            }
        }
        let overs = sink.clipped();
        let (frames, report) = sink.finish_and_measure(temp.path()).map_err(audio)?;
        if let Some(known) = known.as_deref_mut() {
            known.get_or_insert((frames, report, overs));
        }
        Ok((temp, frames, report, overs))
    }
}

/// Where a delivered file's samples come from: the audio it encodes, the
/// gain before it and the limiter it passes.
struct Origin {
    audio: Hash,
    gain_db: f64,
    limit_at: Option<f64>,
}

impl Origin {
    /// The identity of the PCM samples made from this origin at `format`'s
    /// rate and depth with `dither`.
    fn samples(&self, format: WavFormat, dither: Dither, precision: Precision) -> Hash {
        let text = format!(
            "{} {:?} {:?} {} {} {} {dither:?} {precision:?}",
            self.audio.to_hex(),
            self.gain_db.to_bits(),
            self.limit_at.map(f64::to_bits),
            format.sample_rate,
            format.bits,
            format.float,
        );
        Hash::of_bytes(text.as_bytes())
    }
}
