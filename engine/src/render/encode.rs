//! Encoding a master into a delivered file: limited again at its rate
//! where it was resampled, dithered, written, measured as delivered (an
//! MP3 decoded) and corrected until it meets its ceiling and target.

use bounce_cache::Hash;
use bounce_nodes::{
    render_limited, AudioError, BlockSink, BlockSource, Dither, Mp3Settings, Mp3Sink, Overs,
    PcmFormat, PcmSink, Precision, Resampled, Scaled, Written,
};

use super::{open_blob, Input, OutputInfo, Renderer, StepOutput};
use crate::error::BuildError;
use crate::limiter::{file_limiter, first_limit};
use crate::step::Step;

/// Tries at bringing a delivered file to its ceiling and loudness.
pub(crate) const ATTEMPTS: usize = 6;

/// How far a resampled file's loudness may sit from its master's, LU.
pub(crate) const LOUDNESS_SLACK: f64 = 0.05;

/// How far a decoded MP3 may land from its target before it is encoded
/// again, LU: the ±0.1 LU every delivered file is held to. LAME at 320
/// kbps takes off about 0.05 LU, which is not worth a second encode.
const CODEC_LOUDNESS_SLACK: f64 = 0.1;

/// What a deliverable's attempt encodes: its fit's audio; the resampled
/// master the fit was made from, trimmed and limited again at the file's
/// rate from its kept detection; or the master, trimmed and (if
/// resampled) limited at the file's rate.
enum Prepared<'a> {
    AtRate {
        audio: &'a Input<'a>,
        gain_db: f64,
    },
    Refit {
        audio: &'a Input<'a>,
        detection: std::path::PathBuf,
        limit_at: f64,
        trim_db: f64,
    },
    Master {
        limit_at: Option<f64>,
        trim_db: f64,
    },
}

/// What a deliverable step reads: its master, the fit of it at the file's
/// rate and ceiling, and the master resampled to that rate.
pub(super) struct EncodeInputs<'a> {
    pub master: &'a Input<'a>,
    pub at_rate: Option<&'a Input<'a>>,
    pub resampled: Option<&'a Input<'a>>,
}

/// An attempt's file (none when its samples were measured before and miss
/// a target), what it measured, and what its encoder clipped.
type Attempt = (Option<bounce_cache::TempFile>, Written, Overs);

/// The limiter a file's samples pass at its rate: its ceiling (dBTP), the
/// gain before it (dB), and a detection of the ungained audio to read
/// instead of detecting again.
struct Limit<'p> {
    at: f64,
    gain_db: f64,
    detection: Option<&'p std::path::Path>,
}

/// A deliverable's encoder, which tells what a listener will measure.
trait EncodedSink: BlockSink {
    /// Finishes the file; returns its frames and loudness as delivered.
    fn finish_and_measure(self: Box<Self>, path: &std::path::Path) -> Result<Written, AudioError>;

    /// Samples past full scale the encoder had to clip.
    fn clipped(&self) -> Overs {
        Overs::default()
    }
}

impl EncodedSink for PcmSink {
    fn clipped(&self) -> Overs {
        self.overs()
    }

    /// PCM is measured on the way in: the samples written are the file.
    fn finish_and_measure(self: Box<Self>, _: &std::path::Path) -> Result<Written, AudioError> {
        self.finish()
    }
}

impl EncodedSink for Mp3Sink {
    /// An MP3 is measured decoded: the codec reshapes peaks.
    fn finish_and_measure(self: Box<Self>, path: &std::path::Path) -> Result<Written, AudioError> {
        self.finish()?;
        bounce_nodes::measure_decoded(path)
    }
}

/// A file out of its delivery standard fails its step with the figures.
pub(super) fn check_spec(
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

/// What a deliverable file is: its sample format and dither, or for an
/// MP3 its bitrate or VBR quality.
pub struct FileSpec {
    pub format: PcmFormat,
    pub dither: Dither,
    pub mp3: Option<Mp3Settings>,
}

impl FileSpec {
    /// Whether a lossy codec makes the file: it is then measured decoded,
    /// carries no bit depth and shares no measurement with a PCM file.
    fn lossy(&self) -> bool {
        self.mp3.is_some()
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
    fn samples(&self, format: PcmFormat, dither: Dither, precision: Precision) -> Hash {
        // A mono file's samples are others than a stereo file's; a stereo
        // file's identity (and so its dither's seed) is as it always was.
        let channels = match format.channels {
            2 => String::new(),
            n => format!(" {n} channels"),
        };
        let text = format!(
            "{} {:?} {:?} {} {} {} {dither:?} {precision:?}{channels}",
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

/// Where a deliverable's attempts stand: the gain trimmed so far, where
/// its limiter sits, and what the codec has done to earlier attempts.
struct Attempts {
    format: PcmFormat,
    resampled: bool,
    lossy: bool,
    ceiling: Option<f64>,
    target: Option<f64>,
    /// The trim the fit (or resample step) made, where attempts start.
    start_trim: f64,
    trim: f64,
    limit_at: Option<f64>,
    /// Where the fit limited it.
    fitted_limit: Option<f64>,
    codec_over_seen: bool,
    raised: bool,
}

impl Attempts {
    /// How far over the ceiling, and off the target, a file reads.
    fn misses(&self, report: &bounce_nodes::LoudnessReport) -> (Option<f64>, Option<f64>) {
        let chase_loudness = match self.lossy {
            true => !self.codec_over_seen && !self.raised,
            false => self.resampled,
        };
        let slack = match self.lossy {
            true => CODEC_LOUDNESS_SLACK,
            false => LOUDNESS_SLACK,
        };
        let over = self
            .ceiling
            .map(|c| report.true_peak - c)
            .filter(|over| *over > 0.0);
        let off = self
            .target
            .filter(|_| chase_loudness && report.integrated.is_finite())
            .map(|t| t - report.integrated)
            .filter(|off| off.abs() > slack);
        (over, off)
    }

    /// The next attempt's level after a miss: an over from the codec
    /// lowers the gain, one from resampling lowers the limiter (not the
    /// whole file), and a loudness miss moves the gain.
    fn correct(&mut self, over: Option<f64>, off: Option<f64>) {
        match (over, off) {
            (Some(over), _) if self.lossy => {
                self.codec_over_seen = true;
                self.trim -= over + 0.02;
            }
            (Some(over), _) if self.resampled => {
                self.limit_at = self.limit_at.map(|c| c - over - 0.005);
            }
            (Some(over), _) => self.trim -= over + 0.01,
            (None, Some(off)) => {
                self.raised |= self.lossy;
                self.trim += off;
            }
            (None, None) => {}
        }
    }

    /// What the user should know of the delivered file (warnings) and the
    /// routine corrections that made it (notes).
    fn said(
        &self,
        report: &bounce_nodes::LoudnessReport,
        overs: Overs,
    ) -> (Vec<String>, Vec<String>) {
        let (format, lossy, trim, start_trim) =
            (self.format, self.lossy, self.trim, self.start_trim);
        let mut warnings = Vec::new();
        let mut notes = Vec::new();
        // An MP3's fit made its level; what the codec took off after it is
        // said on its own.
        let corrected = if lossy { start_trim } else { trim };
        if lossy && trim > start_trim {
            notes.push(format!(
                "level raised by {:+.2} dB on the delivered file: the MP3 codec took that much loudness off",
                trim - start_trim
            ));
        }
        let short = self
            .target
            .filter(|_| lossy)
            .map(|t| t - report.integrated)
            .filter(|off| *off > CODEC_LOUDNESS_SLACK && report.integrated.is_finite());
        if let Some(short) = short {
            let ceiling = self.ceiling.unwrap_or(0.0);
            warnings.push(format!(
                "the decoded MP3 reads {:.2} LUFS, {short:.2} LU under its master: the codec took loudness off and its limiter had no room to give it back under the {ceiling:.1} dBTP ceiling (the file peaks at {:.1} dBTP, {:.1} dB under it: the room kept for the encoder's overshoot)",
                report.integrated,
                crate::words::rounded(report.true_peak, 1),
                crate::words::rounded(ceiling - report.true_peak, 1)
            ));
        }
        if corrected.abs() >= 0.005 {
            let why = match (self.resampled, lossy) {
                (true, _) => format!(
                    "resampling to {} Hz changed its {}",
                    format.sample_rate,
                    if self.target.is_some() || start_trim != 0.0 { "loudness or peaks" } else { "peaks" }
                ),
                (false, true) => "limited lower to leave room for the MP3 codec's overshoot, its loudness restored".into(),
                (false, false) => "its peaks passed the ceiling".into(),
            };
            notes.push(format!(
                "level corrected by {corrected:+.2} dB on the delivered file: {why}"
            ));
        }
        if let (Some(now), Some(before)) = (self.limit_at, self.fitted_limit) {
            if now < before {
                notes.push(format!(
                    "limited again at {now:.3} dBTP at {} Hz: limited at {before:.3} dBTP, the file read over its ceiling",
                    format.sample_rate
                ));
            }
        }
        if lossy && trim < start_trim {
            warnings.push(format!(
                "gain lowered by {:.2} dB: the decoded MP3 peaked over the {:.1} dBTP ceiling",
                start_trim - trim,
                self.ceiling.unwrap_or(0.0)
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
        (warnings, notes)
    }

    /// The error of a file that missed on its last attempt.
    fn missed(
        &self,
        step: &Step,
        over: Option<f64>,
        report: &bounce_nodes::LoudnessReport,
    ) -> BuildError {
        match over {
            Some(_) => BuildError::CeilingMissed {
                step: step.id.clone(),
                true_peak: report.true_peak,
                ceiling: self.ceiling.expect("over implies a ceiling"),
                attempts: ATTEMPTS - 1,
            },
            None => BuildError::TargetMissed {
                step: step.id.clone(),
                target: self.target.expect("off implies a target"),
                ceiling: self.ceiling.unwrap_or(0.0),
                reached: report.integrated,
                gain: self.trim,
            },
        }
    }
}

impl Renderer<'_> {
    /// Encodes the master, then verifies the delivered file: the ceiling
    /// always, and the loudness target when the file was resampled (which
    /// can drop content above the new Nyquist and reshape peaks). A file that
    /// misses is encoded again with its level corrected; the limiter at the
    /// file's rate keeps the ceiling while loudness is raised.
    pub(super) fn encode(
        &self,
        step: &Step,
        inputs: EncodeInputs,
        file: &FileSpec,
        ceiling: Option<f64>,
        target: Option<f64>,
    ) -> Result<StepOutput, BuildError> {
        let EncodeInputs {
            master,
            at_rate,
            resampled: resampled_audio,
        } = inputs;
        let format = file.format;
        // The resample step corrected the level and the limiter's ceiling
        // already; a later attempt starts from there. On a resampled file
        // the limiter at the file's rate keeps the ceiling; an over lowers
        // its ceiling, not the whole file.
        let start_trim = at_rate
            .and_then(|a| a.output.info.solved_gain)
            .unwrap_or(0.0);
        let limit_at = at_rate
            .and_then(|a| a.output.info.limiter_ceiling)
            .or(ceiling.map(first_limit));
        // A lossy codec takes loudness off too (LAME at 128 kbps about
        // 0.45 dB): an MP3 that lands low is raised once through its own
        // limiter, unless the codec has already pushed a peak over the
        // ceiling, when the ceiling comes first. What one raise cannot
        // make up (a limiter with no room left) is a warning, not a
        // failure: the master met its target.
        let mut attempts = Attempts {
            format,
            resampled: format.sample_rate != self.rate,
            lossy: file.lossy(),
            ceiling,
            target,
            start_trim,
            trim: start_trim,
            limit_at,
            fitted_limit: limit_at,
            codec_over_seen: false,
            raised: false,
        };
        for attempt in 1..=ATTEMPTS {
            let source = self.prepare(&attempts, attempt, at_rate, resampled_audio);
            let fails = |written: &Written| attempts.misses(&written.report) != (None, None);
            let (temp, written, overs) = self.encode_once(step, master, file, source, &fails)?;
            let (over, off) = attempts.misses(&written.report);
            if over.is_none() && off.is_none() {
                let (warnings, notes) = attempts.said(&written.report, overs);
                let temp = temp.expect("a file that meets its targets was written");
                let hash = self.cache.commit_blob(temp)?;
                let info = delivered_info(file, master, written, (warnings, notes));
                return Ok(StepOutput { hash, info });
            }
            if attempt == ATTEMPTS {
                return Err(attempts.missed(step, over, &written.report));
            }
            attempts.correct(over, off);
        }
        unreachable!("the loop returns")
    }

    /// What an attempt encodes. The first attempt's audio is the shared
    /// fit's; an MP3 lowered after it needs no limiter to stay under the
    /// ceiling, so it is that audio lowered. A resampled file limited again
    /// is made from the resampled audio and its detection while they are
    /// at hand, else from the master.
    fn prepare<'a>(
        &self,
        attempts: &Attempts,
        attempt: usize,
        at_rate: Option<&'a Input<'a>>,
        resampled_audio: Option<&'a Input<'a>>,
    ) -> Prepared<'a> {
        let output_limit = attempts
            .limit_at
            .filter(|_| attempts.resampled || attempts.lossy);
        let trim = attempts.trim;
        let lowered_mp3 = attempts.lossy && trim <= attempts.start_trim;
        if let Some(at_rate) = at_rate.filter(|_| attempt == 1 || lowered_mp3) {
            return Prepared::AtRate {
                audio: at_rate,
                gain_db: trim - attempts.start_trim,
            };
        }
        let kept = resampled_audio.and_then(|r| Some((r, self.kept_detection(&r.output.hash)?)));
        match (output_limit, kept) {
            (Some(limit_at), Some((audio, detection))) => Prepared::Refit {
                audio,
                detection,
                limit_at,
                trim_db: trim,
            },
            _ => Prepared::Master {
                limit_at: output_limit,
                trim_db: trim,
            },
        }
    }

    fn encode_once(
        &self,
        step: &Step,
        master: &Input,
        file: &FileSpec,
        prepared: Prepared,
        fails: &dyn Fn(&Written) -> bool,
    ) -> Result<Attempt, BuildError> {
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
                return self.encode_pcm(step, origin, file, source, None, Precision::Float, fails);
            }
            Prepared::Refit {
                audio: resampled,
                detection,
                limit_at,
                trim_db,
            } => {
                let reader = open_blob(self.cache, &resampled.output.hash).map_err(audio)?;
                let origin = Origin {
                    audio: resampled.output.hash,
                    gain_db: trim_db,
                    limit_at: Some(limit_at),
                };
                let limit = Limit {
                    at: limit_at,
                    gain_db: trim_db,
                    detection: Some(&detection),
                };
                return self.encode_pcm(
                    step,
                    origin,
                    file,
                    Box::new(reader),
                    Some(limit),
                    Precision::Float,
                    fails,
                );
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
        let limit = limit_at.map(|at| Limit {
            at,
            gain_db: 0.0,
            detection: None,
        });
        self.encode_pcm(step, origin, file, source, limit, precision, fails)
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
        limit: Option<Limit>,
        precision: Precision,
        fails: &dyn Fn(&Written) -> bool,
    ) -> Result<Attempt, BuildError> {
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
        let slot = (!file.lossy()).then(|| self.measures.slot(samples));
        // The other file of these samples, encoding now, holds the slot
        // until it has measured them: metering them here too costs less
        // than a worker idle for the whole of its encoding.
        let mut known = slot.as_ref().and_then(|s| match s.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::WouldBlock) => None,
            Err(std::sync::TryLockError::Poisoned(_)) => panic!("measure lock poisoned"),
        });
        // A bext chunk needs the momentary and short-term maxima, which a
        // plain file's measurement leaves out.
        let measured = known
            .as_deref()
            .and_then(Option::as_ref)
            .filter(|m| {
                format.container != bounce_nodes::Container::Bwf || !m.report.max_momentary.is_nan()
            })
            .cloned();
        // Samples already measured as missing a target need no file: the
        // next attempt corrects them.
        if let Some(known) = measured.as_ref().filter(|m| fails(m)) {
            return Ok((None, known.clone(), Overs::default()));
        }
        let mut sink: Box<dyn EncodedSink> = match file.mp3 {
            Some(mode) => Box::new(
                Mp3Sink::create(temp.path(), format.sample_rate, mode, format.channels)
                    .map_err(audio)?,
            ),
            None => Box::new(
                PcmSink::create(
                    temp.path(),
                    format,
                    dither,
                    samples.seed(),
                    None,
                    measured.as_ref().map(|m| m.report),
                )
                .map_err(audio)?,
            ),
        };

        match limit {
            // Resampling reshapes peaks (the band it removes took part in
            // them): limit again at the file's rate, which touches only the
            // few new overs, a hair under the ceiling to leave room for dither.
            Some(limit) => {
                render_limited(
                    source,
                    format.sample_rate,
                    limit.gain_db,
                    file_limiter(limit.at),
                    limit.detection,
                    sink.as_mut(),
                )
                .map_err(audio)?;
            }
            _ => {
                bounce_nodes::copy_source(source.as_mut(), sink.as_mut()).map_err(audio)?;
            }
        }
        let overs = sink.clipped();
        let mut written = sink.finish_and_measure(temp.path()).map_err(audio)?;
        if written.blocks.is_none() {
            // Told the measurement: its loudness blocks come with it.
            written.blocks = measured.and_then(|m| m.blocks);
        }
        if let Some(known) = known.as_deref_mut() {
            known.get_or_insert(written.clone());
        }
        Ok((Some(temp), written, overs))
    }
}

/// What is known of a delivered file that met its targets.
fn delivered_info(
    file: &FileSpec,
    master: &Input,
    written: Written,
    (warnings, notes): (Vec<String>, Vec<String>),
) -> OutputInfo {
    let (format, report) = (file.format, written.report);
    let precision = if format.float || file.lossy() {
        Precision::Float
    } else {
        Precision::Int(format.bits as u8)
    };
    OutputInfo {
        bits: (!file.lossy()).then_some(format.bits),
        float: format.float,
        measured: Some(report.into()),
        true_peak_channels: Some(report.true_peak_channels)
            .filter(|c| c.iter().all(|x| !x.is_nan())),
        blocks: written.blocks,
        limiter_reduction: master.output.info.limiter_reduction,
        limiter_mean: master.output.info.limiter_mean,
        warnings,
        notes,
        channels: format.channels,
        ..OutputInfo::pcm(format.sample_rate, written.frames, precision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Measures;
    use crate::step::{Action, StepKind};
    use bounce_nodes::{Container, PcmWriter};
    use petgraph::graph::NodeIndex;

    const MASTER_RATE: u32 = 48000;
    const FILE_RATE: u32 = 44100;
    const CEILING: f64 = -1.0;

    fn step(id: &str, kind: StepKind, action: Action) -> Step {
        Step {
            id: id.into(),
            kind,
            track: Some(1),
            action,
        }
    }

    /// A master of tone bursts that cross full scale between samples once
    /// resampled: well over the ceiling.
    fn write_master(cache: &bounce_cache::Cache) -> StepOutput {
        let temp = cache.temp_file("master");
        let mut writer = PcmWriter::create(temp.path(), MASTER_RATE, Precision::Float).unwrap();
        let frames = MASTER_RATE as usize * 3;
        let signal: Vec<f32> = (0..frames)
            .map(|i| {
                let t = i as f64 / MASTER_RATE as f64;
                let burst = if (t * 4.0).fract() < 0.5 { 0.98 } else { 0.3 };
                (burst * (std::f64::consts::TAU * 11_025.0 * t + 0.4).sin()) as f32
            })
            .collect();
        writer.write(&signal, &signal).unwrap();
        let frames = writer.finish().unwrap();
        StepOutput {
            hash: cache.commit_blob(temp).unwrap(),
            info: OutputInfo::pcm(MASTER_RATE, frames, Precision::Float),
        }
    }

    /// A resampled file whose first attempt reads over its ceiling is
    /// limited again from the resampled audio and its kept detection: the
    /// file keeps the ceiling, says so, and is the very file the long way
    /// (resampling the master again) makes.
    #[test]
    fn a_file_over_its_ceiling_is_limited_again_from_the_resampled_audio() {
        let dir = tempfile::tempdir().unwrap();
        let cache = bounce_cache::Cache::open(dir.path()).unwrap();
        let measures = Measures::default();
        let renderer = Renderer {
            cache: &cache,
            rate: MASTER_RATE,
            measures: &measures,
        };
        let master_step = step(
            "master:m:1",
            StepKind::Master,
            Action::Resample {
                rate: 0,
                master: NodeIndex::new(0),
            },
        );
        let master_output = write_master(&cache);
        let master = Input {
            step: &master_step,
            output: &master_output,
        };
        let resample_step = step(
            "resample:m:1:44100",
            StepKind::Resample,
            Action::Resample {
                rate: FILE_RATE,
                master: NodeIndex::new(0),
            },
        );
        let resampled_output = renderer
            .render_resampled(&resample_step, &master, FILE_RATE)
            .unwrap();
        let resampled = Input {
            step: &resample_step,
            output: &resampled_output,
        };
        // A fit that let the peaks through: its first attempt misses.
        let fit_step = step(
            "fit:m:1:44100",
            StepKind::Fit,
            Action::Resample {
                rate: 0,
                master: NodeIndex::new(0),
            },
        );
        let fit_output = StepOutput {
            info: OutputInfo {
                limiter_ceiling: Some(first_limit(CEILING)),
                ..resampled_output.info.clone()
            },
            ..resampled_output.clone()
        };
        let fit = Input {
            step: &fit_step,
            output: &fit_output,
        };
        let file = FileSpec {
            format: PcmFormat {
                sample_rate: FILE_RATE,
                bits: 24,
                float: false,
                container: Container::Wav,
                channels: 2,
            },
            dither: Dither::None,
            mp3: None,
        };
        let deliverable = step(
            "deliverable:wav:1",
            StepKind::Deliverable,
            Action::Resample {
                rate: 0,
                master: NodeIndex::new(0),
            },
        );
        let encode = |resampled: Option<&Input>| {
            renderer
                .encode(
                    &deliverable,
                    EncodeInputs {
                        master: &master,
                        at_rate: Some(&fit),
                        resampled,
                    },
                    &file,
                    Some(CEILING),
                    None,
                )
                .unwrap()
        };
        assert!(
            renderer.kept_detection(&resampled.output.hash).is_some(),
            "the detection is at hand, so the shortcut is taken"
        );
        let refit = encode(Some(&resampled));
        let true_peak = refit.info.measured.unwrap().true_peak.unwrap();
        assert!(true_peak <= CEILING, "{true_peak} dBTP");
        assert!(
            refit.info.notes.iter().any(|n| n.contains("limited again")),
            "{:?}",
            refit.info.notes
        );
        let long_way = encode(None);
        assert_eq!(refit.hash, long_way.hash, "the same file either way");
    }
}
