//! English for messages.

/// `value` rounded to `places` decimals, a negative zero made zero: what
/// a figure is printed from, so nothing reads "-0.00 dB".
pub fn rounded(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    let r = (value * scale).round() / scale;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// `n` things: "1 track", "3 tracks".
pub fn count(n: usize, thing: &str) -> String {
    match n {
        1 => format!("1 {thing}"),
        _ => format!("{n} {thing}s"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_figure_that_rounds_to_zero_prints_without_a_sign() {
        assert_eq!(format!("{:.2}", super::rounded(-0.001, 2)), "0.00");
        assert_eq!(format!("{:+.2}", super::rounded(-0.004, 2)), "+0.00");
        assert_eq!(format!("{:.2}", super::rounded(-0.006, 2)), "-0.01");
        assert_eq!(format!("{:.1}", super::rounded(-0.04, 1)), "0.0");
    }
}
