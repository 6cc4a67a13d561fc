//! The limiters bounce states itself (a master's, and a file's at its own
//! rate) and where each starts under its ceiling: one place for what the
//! plan keys and the renderer runs.

use bounce_nodes::LimiterSettings;

/// How far under the ceiling a limiter starts, dB: it detects on an 8×
/// grid and the BS.1770 points, and the strict meter's 16× points read
/// up to 0.17 dB higher near Nyquist; starting this much lower keeps one
/// round of rendering on the demo and the mastering album (docs/design.md,
/// "Where a limiter starts"). The strict check still decides.
const GRID_MARGIN_DB: f64 = 0.1;

/// A master's limiter: true peak at `ceiling`, 50 ms release, 5 ms
/// lookahead.
pub(crate) fn master_limiter(ceiling: f64) -> LimiterSettings {
    LimiterSettings {
        ceiling,
        release_ms: 50.0,
        lookahead_ms: 5.0,
    }
}

/// The limiter a resampled file goes through at its own rate.
pub(crate) fn file_limiter(ceiling: f64) -> LimiterSettings {
    LimiterSettings {
        ceiling,
        release_ms: 50.0,
        lookahead_ms: 1.5,
    }
}

/// Where a limiter under `ceiling` is first set.
pub(crate) fn first_limit(ceiling: f64) -> f64 {
    ceiling - GRID_MARGIN_DB
}
