use std::path::PathBuf;

/// What can go wrong while reading, processing or writing audio.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: {what}")]
    NotAFile { path: PathBuf, what: String },
    #[error(
        "{path}: sample frame {frame} ({:.3} s in) is not a number (NaN or infinite); bounce takes finite samples only",
        *frame as f64 / *rate as f64
    )]
    NotFinite {
        path: PathBuf,
        frame: u64,
        rate: u32,
    },
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an audio file bounce can read ({reason})")]
    Unsupported { path: PathBuf, reason: String },
    #[error("{path}: {channels} channels; bounce takes mono or stereo sources")]
    Channels { path: PathBuf, channels: usize },
    #[error("{path}: truncated: its header declares {declared} frames but the audio ends after {found} (an interrupted copy or export?)")]
    Truncated {
        path: PathBuf,
        declared: u64,
        found: u64,
    },
    #[error("{path}: damaged or cut short: its header declares {declared} frames but only {found} decode (a corrupt frame skipped, or a copy interrupted)")]
    FramesMissing {
        path: PathBuf,
        declared: u64,
        found: u64,
    },
    #[error("{path}: damaged audio data: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("{path}: not a bounce PCM file ({reason})")]
    BadPcm { path: PathBuf, reason: String },
    #[error("cannot resample from {from} Hz to {to} Hz: {reason}")]
    Resample { from: u32, to: u32, reason: String },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {reason}")]
    Encode { path: PathBuf, reason: String },
    #[error("cannot use the cover image {path}: {reason}")]
    Cover { path: PathBuf, reason: String },
    #[error("{path}: a cached file is damaged (its content no longer matches its name); it has been removed, build again to render it anew")]
    Damaged { path: PathBuf },
    #[error("loudness measurement failed: {0}")]
    Meter(String),
    #[error("cannot edit the source: {0}")]
    Edit(String),
    #[error("denoise cannot learn its noise: {0}")]
    NoiseProfile(String),
}

impl AudioError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        AudioError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
