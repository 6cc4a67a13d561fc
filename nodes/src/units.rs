/// Linear gain for a level change in dB.
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Level in dB of a linear gain (−∞ for 0).
pub fn gain_to_db(gain: f64) -> f64 {
    20.0 * gain.log10()
}
