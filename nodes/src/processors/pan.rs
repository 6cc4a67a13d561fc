use serde::{Deserialize, Serialize};

use super::Processor;

use super::kind::{Kind, Param};
use super::ProcessorSpec;

/// `pan POSITION`: a stereo position, -1 (left) to 1 (right).
pub const KIND: Kind = Kind {
    name: "pan",
    summary: "places the signal from -1 (left) to 1 (right); a mono source pans at -3 dB in the centre (constant power), a stereo one is balanced",
    params: &[Param::argument("a position from -1 to 1", "", -1.0, 1.0)],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::Pan {
        position: v[0],
        law: PanLaw::Auto,
    }),
    in_chain: true,
    example: "pan -0.3",
};

/// How a pan position becomes channel gains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PanLaw {
    /// For a mono source: sin/cos, −3 dB at centre, constant total power.
    ConstantPower,
    /// For a stereo source: attenuates the far channel only; centre is unity.
    Balance,
    /// Written in a project: constant power on a mono stem, balance anywhere
    /// else. Resolved with [`PanLaw::resolve`] before rendering.
    Auto,
}

impl PanLaw {
    /// The law to use on a signal that is (or began as) mono or stereo.
    pub fn resolve(self, mono_source: bool) -> PanLaw {
        match self {
            PanLaw::Auto if mono_source => PanLaw::ConstantPower,
            PanLaw::Auto => PanLaw::Balance,
            law => law,
        }
    }
}

/// Pan (mono source) or balance (stereo source); the position runs from −1
/// (hard left) to 1 (hard right).
pub struct Pan {
    left_gain: f32,
    right_gain: f32,
}

impl Pan {
    pub fn new(position: f64, law: PanLaw) -> Self {
        let p = position.clamp(-1.0, 1.0);
        let (l, r) = match law {
            PanLaw::ConstantPower => {
                let angle = (p + 1.0) * std::f64::consts::FRAC_PI_4;
                (angle.cos(), angle.sin())
            }
            PanLaw::Balance | PanLaw::Auto => ((1.0 - p).min(1.0), (1.0 + p).min(1.0)),
        };
        Pan {
            left_gain: l as f32,
            right_gain: r as f32,
        }
    }

    pub fn gains(&self) -> (f32, f32) {
        (self.left_gain, self.right_gain)
    }
}

impl Processor for Pan {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        if self.left_gain != 1.0 {
            left.iter_mut().for_each(|x| *x *= self.left_gain);
        }
        if self.right_gain != 1.0 {
            right.iter_mut().for_each(|x| *x *= self.right_gain);
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(position: &f64, law: &PanLaw) -> bool {
    *position == 0.0 && *law != PanLaw::ConstantPower
}

pub(super) fn describe(position: &f64, _: &PanLaw) -> String {
    format!("pan {position:+.2}")
}

pub(super) fn build(position: &f64, law: &PanLaw, _: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Pan::new(*position, *law))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(x: f32) -> f64 {
        crate::gain_to_db(x as f64)
    }

    #[test]
    fn constant_power_is_minus_three_db_at_centre() {
        let (l, r) = Pan::new(0.0, PanLaw::ConstantPower).gains();
        assert!((db(l) + 3.0103).abs() < 0.001, "{}", db(l));
        assert!((db(r) + 3.0103).abs() < 0.001);
    }

    #[test]
    fn constant_power_keeps_power_everywhere() {
        for i in -10..=10 {
            let (l, r) = Pan::new(i as f64 / 10.0, PanLaw::ConstantPower).gains();
            let power = (l * l + r * r) as f64;
            assert!((power - 1.0).abs() < 1e-6, "position {i}: {power}");
        }
    }

    #[test]
    fn hard_pans_silence_the_other_side() {
        let (l, r) = Pan::new(-1.0, PanLaw::ConstantPower).gains();
        assert!((l - 1.0).abs() < 1e-7 && r.abs() < 1e-7);
        let (l, r) = Pan::new(1.0, PanLaw::Balance).gains();
        assert_eq!((l, r), (0.0, 1.0));
    }

    #[test]
    fn balance_is_unity_at_centre_and_halves_the_far_side() {
        assert_eq!(Pan::new(0.0, PanLaw::Balance).gains(), (1.0, 1.0));
        assert_eq!(Pan::new(0.5, PanLaw::Balance).gains(), (0.5, 1.0));
        assert_eq!(Pan::new(-0.25, PanLaw::Balance).gains(), (1.0, 0.75));
    }
}
