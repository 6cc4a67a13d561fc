//! Running one step: reading its inputs' outputs, rendering, storing.

use bounce_cache::{Cache, Hash};
use bounce_nodes::processors::FadeCurve;
use bounce_nodes::{
    render_chain, AudioError, BlockSink, BlockSource, ChainContext, DecodedFile, Dither, Fit,
    LoudnessReport, Mixer, PanLaw, PcmReader, PcmWriter, Precision, ProcessorSpec, Resampled, Tone,
    WavFormat, WavSink, BLOCK_FRAMES,
};
use serde::{Deserialize, Serialize};

use crate::step::{Action, Step};
use crate::BuildError;

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
}

impl OutputInfo {
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / self.sample_rate as f64
    }
}

/// A [`LoudnessReport`] that survives JSON: silence reads as `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
            sample_rate: info.sample_rate,
            channels: info.channels as u16,
            frames,
            precision: info.precision(),
            bits: None,
            float: info.float,
            measured: None,
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
}

type Open<'a> = Box<dyn FnMut() -> Result<Box<dyn BlockSource>, AudioError> + 'a>;

impl Renderer<'_> {
    /// Renders `step` (not a source: those are read, not rendered).
    pub fn render(
        &self,
        step: &Step,
        key: Hash,
        inputs: &[Input],
    ) -> Result<StepOutput, BuildError> {
        match &step.action {
            Action::ReadFile { .. } | Action::Tone { .. } => {
                unreachable!("sources are read by the scheduler")
            }
            Action::Stem {
                chain,
                gain,
                pan,
                offset,
            } => {
                let source = &inputs[0];
                let mono = source.output.info.channels == 1;
                let mut full: Vec<ProcessorSpec> =
                    chain.iter().map(|p| p.resolve_pan_law(mono)).collect();
                full.push(ProcessorSpec::Gain { db: *gain });
                full.push(ProcessorSpec::Pan {
                    position: *pan,
                    law: if mono {
                        PanLaw::ConstantPower
                    } else {
                        PanLaw::Balance
                    },
                });
                let resample = source.output.info.sample_rate != self.rate;
                let precision = if resample || !full.iter().all(ProcessorSpec::is_identity) {
                    Precision::Float
                } else {
                    source.output.info.precision
                };
                let offset_frames = (offset * self.rate as f64).round() as u64;
                let open = self.source_opener(source, resample);
                self.render_pcm(step, open, &full, 0, offset_frames, precision)
            }
            Action::Bus { chain, gain, pan } => {
                let mut full = chain.clone();
                full.push(ProcessorSpec::Gain { db: *gain });
                full.push(ProcessorSpec::Pan {
                    position: *pan,
                    law: PanLaw::Balance,
                });
                let full: Vec<_> = full.iter().map(|p| p.resolve_pan_law(false)).collect();
                let frames = inputs
                    .iter()
                    .map(|i| i.output.info.frames)
                    .max()
                    .unwrap_or(0);
                let precision = self.sum_precision(inputs, &full);
                self.render_pcm(step, self.mixer(inputs, None), &full, frames, 0, precision)
            }
            Action::Mix {
                chain,
                length,
                fade_in,
                fade_out,
            } => {
                let frames = match length {
                    Some(seconds) => (seconds * self.rate as f64).round() as u64,
                    None => inputs
                        .iter()
                        .map(|i| i.output.info.frames)
                        .max()
                        .unwrap_or(0),
                };
                let mut full: Vec<_> = chain.iter().map(|p| p.resolve_pan_law(false)).collect();
                if fade_in.is_some() || fade_out.is_some() {
                    let curve_of = |f: &Option<(f64, FadeCurve)>| f.map(|(_, c)| c);
                    full.push(ProcessorSpec::Fade {
                        fade_in: fade_in.map(|(s, _)| s).unwrap_or(0.0),
                        fade_out: fade_out.map(|(s, _)| s).unwrap_or(0.0),
                        curve: curve_of(fade_in)
                            .or(curve_of(fade_out))
                            .unwrap_or(FadeCurve::Cos),
                    });
                }
                let precision = self.sum_precision(inputs, &full);
                self.render_pcm(
                    step,
                    self.mixer(inputs, Some(frames)),
                    &full,
                    frames,
                    0,
                    precision,
                )
            }
            Action::Master { chain, target } => {
                let mut full: Vec<_> = chain.iter().map(|p| p.resolve_pan_law(false)).collect();
                if let Some(lufs) = target {
                    full.push(ProcessorSpec::Loudness { lufs: *lufs });
                }
                let frames = inputs[0].output.info.frames;
                let precision = self.sum_precision(inputs, &full);
                self.render_pcm(step, self.mixer(inputs, None), &full, frames, 0, precision)
            }
            Action::Encode {
                bits,
                float,
                rate,
                dither,
            } => self.encode(step, key, &inputs[0], *bits, *float, *rate, *dither),
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
                let path = self.cache.blob_path(&input.output.hash);
                readers.push(Box::new(PcmReader::open(&path)?));
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
        total_frames: u64,
        lead_in: u64,
        precision: Precision,
    ) -> Result<StepOutput, BuildError> {
        let audio = |source: AudioError| BuildError::Audio {
            step: step.id.clone(),
            source,
        };
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
        };
        render_chain(&mut open, chain, &context, &mut writer).map_err(audio)?;
        let frames = writer.finish().map_err(audio)?;
        let hash = self.cache.commit_blob(temp)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                sample_rate: self.rate,
                channels: 2,
                frames,
                precision,
                bits: None,
                float: false,
                measured: None,
            },
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn encode(
        &self,
        step: &Step,
        key: Hash,
        master: &Input,
        bits: u16,
        float: bool,
        rate: u32,
        dither: Dither,
    ) -> Result<StepOutput, BuildError> {
        let audio = |source: AudioError| BuildError::Audio {
            step: step.id.clone(),
            source,
        };
        let blob = self.cache.blob_path(&master.output.hash);
        let reader = PcmReader::open(&blob).map_err(audio)?;
        let resample = rate != self.rate;
        let mut source: Box<dyn BlockSource> = if resample {
            Box::new(Resampled::new(reader, self.rate, rate).map_err(audio)?)
        } else {
            Box::new(reader)
        };
        let precision = if resample {
            Precision::Float
        } else {
            master.output.info.precision
        };
        // Dither only when bits are really lost: a signal already on a grid
        // at least as coarse as the file's goes in untouched.
        let needs_dither = match precision {
            Precision::Int(p) => p as u16 > bits,
            Precision::Float => true,
        };
        let dither = if !float && bits < 32 && needs_dither {
            dither
        } else {
            Dither::None
        };
        let temp = self.cache.temp_file("deliverable");
        let format = WavFormat {
            sample_rate: rate,
            bits,
            float,
        };
        let mut sink = WavSink::create(temp.path(), format, dither, key.seed()).map_err(audio)?;
        bounce_nodes::copy_source(source.as_mut(), &mut sink).map_err(audio)?;
        let (frames, report) = sink.finish().map_err(audio)?;
        let hash = self.cache.commit_blob(temp)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                sample_rate: rate,
                channels: 2,
                frames,
                precision: if float {
                    Precision::Float
                } else {
                    Precision::Int(bits as u8)
                },
                bits: Some(bits),
                float,
                measured: Some(report.into()),
            },
        })
    }
}
