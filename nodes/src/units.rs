/// Natural-log nepers per decibel of amplitude: 10^(dB/20) = e^(dB·ln10/20).
pub(crate) const NEPERS_PER_DB: f64 = std::f64::consts::LN_10 / 20.0;

/// How much louder BS.1770-4 reads one channel played on both speakers
/// than the same channel as a mono file, dB: 10·log10(2), as the channel
/// weights of its eq. 2 sum (dual mono 2, mono 1).
pub const DUAL_MONO_GAIN_DB: f64 = 3.010_299_956_639_812;

/// Linear gain for a level change in dB. Through `exp`, which is several
/// times cheaper than `powf`: compressors call this once per sample.
pub fn db_to_gain(db: f64) -> f64 {
    (db * NEPERS_PER_DB).exp()
}

/// Level in dB of a linear gain (−∞ for 0).
pub fn gain_to_db(gain: f64) -> f64 {
    20.0 * gain.log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decibels_and_gains_agree_with_their_definitions() {
        for db in [-120.0, -60.0, -6.0206, -1.0, 0.0, 0.5, 6.0, 24.0] {
            let gain = db_to_gain(db);
            assert!(
                (gain / 10f64.powf(db / 20.0) - 1.0).abs() < 1e-14,
                "{db} dB"
            );
            assert!((gain_to_db(gain) - db).abs() < 1e-12, "{db} dB back");
        }
        assert_eq!(db_to_gain(0.0), 1.0);
    }
}
