use serde::{Deserialize, Serialize};

use super::{Processor, ProcessorContext};

use super::kind::Kind;

/// `fade-in` / `fade-out`: a track's fades, the last processors of its mix.
pub const KIND: Kind = Kind {
    name: "fade",
    summary: "a track's `fade-in SECONDS` and `fade-out SECONDS`, with `curve=` `\"linear\"`, `\"cos\"` (default) or `\"exp\"`, applied to its mix",
    params: &[],
    other_props: &[],
    version: 1,
    build: None,
    in_chain: false,
    example: "track 1 \"Title\" {\n    // …\n    fade-in 0.5\n    fade-out 2 curve=\"exp\"\n}",
};

/// The shape of a fade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FadeCurve {
    Linear,
    /// Raised cosine: smooth at both ends.
    Cos,
    /// Exponential: linear in dB over a 60 dB range, then to silence.
    Exp,
}

impl FadeCurve {
    /// Gain for a fade-in at progress `t` in 0..=1.
    fn gain(self, t: f64) -> f64 {
        let t = t.clamp(0.0, 1.0);
        match self {
            FadeCurve::Linear => t,
            FadeCurve::Cos => 0.5 - 0.5 * (std::f64::consts::PI * t).cos(),
            FadeCurve::Exp => {
                if t == 0.0 {
                    0.0
                } else {
                    crate::db_to_gain(-60.0 * (1.0 - t))
                }
            }
        }
    }
}

/// A track's fade-in and fade-out.
pub struct Fade {
    fade_in: u64,
    fade_out: u64,
    total: u64,
    curve: FadeCurve,
    position: u64,
}

impl Fade {
    pub fn new(fade_in: f64, fade_out: f64, curve: FadeCurve, context: &ProcessorContext) -> Self {
        let frames = |s: f64| (s * context.sample_rate as f64).round() as u64;
        Fade {
            fade_in: frames(fade_in).min(context.total_frames),
            fade_out: frames(fade_out).min(context.total_frames),
            total: context.total_frames,
            curve,
            position: 0,
        }
    }

    fn gain_at(&self, frame: u64) -> f64 {
        let mut gain = 1.0;
        if frame < self.fade_in {
            gain *= self.curve.gain(frame as f64 / self.fade_in as f64);
        }
        let out_start = self.total - self.fade_out;
        if self.fade_out > 0 && frame >= out_start {
            // Reaches zero on the last frame.
            let remaining = (self.total - 1 - frame) as f64;
            gain *= self
                .curve
                .gain(remaining / (self.fade_out - 1).max(1) as f64);
        }
        gain
    }
}

impl Processor for Fade {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let start = self.position;
        self.position += left.len() as u64;
        let untouched = start >= self.fade_in && self.position <= self.total - self.fade_out;
        if untouched {
            return;
        }
        for (i, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
            let gain = self.gain_at(start + i as u64) as f32;
            *l *= gain;
            *r *= gain;
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(fade_in: &f64, fade_out: &f64, _: &FadeCurve) -> bool {
    *fade_in == 0.0 && *fade_out == 0.0
}

pub(super) fn describe(fade_in: &f64, fade_out: &f64, _: &FadeCurve) -> String {
    format!("fades {fade_in} s / {fade_out} s")
}

pub(super) fn build(fade_in: &f64, fade_out: &f64, curve: &FadeCurve, context: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Fade::new(*fade_in, *fade_out, *curve, context))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(curve: FadeCurve, fade_in: f64, fade_out: f64, total: u64) -> Vec<f32> {
        let context = ProcessorContext {
            sample_rate: 100,
            total_frames: total,
        };
        let mut fade = Fade::new(fade_in, fade_out, curve, &context);
        let (mut l, mut r) = (vec![1.0f32; total as usize], vec![1.0f32; total as usize]);
        fade.process(&mut l[..37], &mut r[..37]);
        fade.process(&mut l[37..], &mut r[37..]);
        l
    }

    #[test]
    fn linear_fades_ramp_from_and_to_silence() {
        let out = render(FadeCurve::Linear, 1.0, 1.0, 300);
        assert_eq!(out[0], 0.0);
        assert!((out[50] - 0.5).abs() < 1e-6);
        assert_eq!(out[150], 1.0);
        assert_eq!(out[299], 0.0);
        assert!((out[200] - 0.99).abs() < 0.011, "{}", out[200]);
    }

    #[test]
    fn cos_fade_is_half_way_at_the_middle() {
        let out = render(FadeCurve::Cos, 1.0, 0.0, 200);
        assert!((out[50] - 0.5).abs() < 1e-6);
        assert!(out[10] < 0.1 && out[90] > 0.9);
        assert_eq!(out[199], 1.0);
    }

    #[test]
    fn exp_fade_is_linear_in_db() {
        let out = render(FadeCurve::Exp, 1.0, 0.0, 200);
        let db = crate::gain_to_db(out[50] as f64);
        assert!((db + 30.0).abs() < 0.01, "{db}");
    }
}
