//! `bounce analyze`: format and measurements of audio files.

use std::path::PathBuf;

use bounce_nodes::analyze_file;

use crate::args::{MessageFormat, EXIT_FAILED};
use crate::output::outln;

fn figure(value: f64, unit: &str) -> String {
    if value.is_finite() {
        format!("{value:.2} {unit}")
    } else {
        format!("-inf {unit}")
    }
}

fn json_number(value: f64) -> serde_json::Value {
    if value.is_finite() {
        serde_json::json!((value * 100.0).round() / 100.0)
    } else {
        serde_json::Value::Null
    }
}

pub fn run(files: &[PathBuf], format: MessageFormat) -> Result<(), i32> {
    let mut failed = false;
    for path in files {
        let analysis = match analyze_file(path) {
            Ok(analysis) => analysis,
            Err(error) => {
                eprintln!("error: {error}");
                failed = true;
                continue;
            }
        };
        let info = &analysis.info;
        let l = &analysis.loudness;
        match format {
            MessageFormat::Json => {
                let line = serde_json::json!({
                    "file": path.display().to_string(),
                    "codec": info.codec,
                    "sample_rate": info.sample_rate,
                    "channels": info.channels,
                    "bits": info.bits,
                    "float": info.float,
                    "frames": analysis.frames,
                    "duration": analysis.seconds(),
                    "sample_peak": json_number(l.sample_peak),
                    "true_peak": json_number(l.true_peak),
                    "integrated": json_number(l.integrated),
                    "loudness_range": json_number(l.range),
                    "max_momentary": json_number(l.max_momentary),
                    "max_short_term": json_number(l.max_short_term),
                });
                outln!("{line}");
            }
            MessageFormat::Human => {
                let bits = match (info.bits, info.float) {
                    (Some(b), true) => format!("{b}-bit float"),
                    (Some(b), false) => format!("{b}-bit"),
                    (None, _) => "lossy".into(),
                };
                outln!("{}", path.display());
                outln!(
                    "  format       {} {} Hz {} {}",
                    info.codec,
                    info.sample_rate,
                    bits,
                    if info.channels == 1 { "mono" } else { "stereo" }
                );
                outln!(
                    "  duration     {:.3} s ({} frames)",
                    analysis.seconds(),
                    analysis.frames
                );
                outln!("  sample peak  {}", figure(l.sample_peak, "dBFS"));
                outln!("  true peak    {}", figure(l.true_peak, "dBTP"));
                outln!("  integrated   {}", figure(l.integrated, "LUFS"));
                outln!("  range        {}", figure(l.range, "LU"));
            }
        }
    }
    if failed {
        Err(EXIT_FAILED)
    } else {
        Ok(())
    }
}
