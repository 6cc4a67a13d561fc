use super::Processor;

use super::kind::{Kind, Param};
use super::ProcessorSpec;

/// `width FACTOR`: the side signal scaled.
pub const KIND: Kind = Kind {
    name: "width",
    summary: "scales the side signal against the mid: 0 folds to mono, 1 leaves the image as it is",
    params: &[Param::argument("a width", "", 0.0, 4.0)],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::Width { width: v[0] }),
    in_chain: true,
    example: "width 1.2",
};

/// Mid/side width: 0 folds to mono, 1 leaves the image, above 1 widens.
pub struct Width {
    side_gain: f64,
}

impl Width {
    pub fn new(width: f64) -> Self {
        Width { side_gain: width }
    }
}

impl Processor for Width {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        if self.side_gain == 1.0 {
            return;
        }
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            // f64 keeps mid + side exact for f32 inputs.
            let (lf, rf) = (*l as f64, *r as f64);
            let mid = (lf + rf) * 0.5;
            let side = (lf - rf) * 0.5 * self.side_gain;
            *l = (mid + side) as f32;
            *r = (mid - side) as f32;
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(width: &f64) -> bool {
    *width == 1.0
}

pub(super) fn describe(width: &f64) -> String {
    format!("width {width}")
}

pub(super) fn build(width: &f64, _: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Width::new(*width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_width_folds_to_mono() {
        let (mut l, mut r) = (vec![1.0f32, 0.5], vec![0.0f32, -0.5]);
        Width::new(0.0).process(&mut l, &mut r);
        assert_eq!(l, vec![0.5, 0.0]);
        assert_eq!(r, vec![0.5, 0.0]);
    }

    #[test]
    fn width_scales_side_and_keeps_mid() {
        let (mut l, mut r) = (vec![0.6f32], vec![0.2f32]);
        Width::new(1.5).process(&mut l, &mut r);
        // mid 0.4, side 0.2 → 0.3
        assert!((l[0] - 0.7).abs() < 1e-7, "{}", l[0]);
        assert!((r[0] - 0.1).abs() < 1e-7, "{}", r[0]);
    }

    #[test]
    fn unity_width_is_bit_exact() {
        let input: Vec<f32> = (0..64).map(|i| (i as f32 * 0.71).sin()).collect();
        let other: Vec<f32> = (0..64).map(|i| (i as f32 * 0.13).cos()).collect();
        let (mut l, mut r) = (input.clone(), other.clone());
        Width::new(1.0).process(&mut l, &mut r);
        assert_eq!((l, r), (input, other));
    }

    #[test]
    fn mono_input_is_unchanged_at_any_width() {
        let (mut l, mut r) = (vec![0.3f32; 4], vec![0.3f32; 4]);
        Width::new(2.0).process(&mut l, &mut r);
        assert_eq!(l, vec![0.3; 4]);
        assert_eq!(r, vec![0.3; 4]);
    }
}
