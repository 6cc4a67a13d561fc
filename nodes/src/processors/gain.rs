use super::Processor;

use super::kind::{Kind, Param};
use super::ProcessorSpec;

/// `gain DB`: a static gain.
pub const KIND: Kind = Kind {
    name: "gain",
    summary: "a static gain",
    params: &[Param::argument("a gain in dB", "dB", -200.0, 60.0)],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::Gain { db: v[0] }),
    in_chain: true,
    example: "gain -3",
};

/// Static gain.
pub struct Gain {
    factor: f32,
}

impl Gain {
    pub fn new(db: f64) -> Self {
        Gain {
            factor: crate::db_to_gain(db) as f32,
        }
    }
}

impl Processor for Gain {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        if self.factor == 1.0 {
            return;
        }
        for x in left.iter_mut().chain(right.iter_mut()) {
            *x *= self.factor;
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(db: &f64) -> bool {
    *db == 0.0
}

pub(super) fn describe(db: &f64) -> String {
    format!("gain {db:+} dB")
}

pub(super) fn build(db: &f64, _: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Gain::new(*db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_db_doubles_amplitude_within_a_hundredth_of_a_db() {
        let mut gain = Gain::new(6.0206);
        let (mut l, mut r) = (vec![0.25f32; 8], vec![-0.5f32; 8]);
        gain.process(&mut l, &mut r);
        assert!((l[0] - 0.5).abs() < 1e-4, "{}", l[0]);
        assert!((r[7] + 1.0).abs() < 1e-4, "{}", r[7]);
    }

    #[test]
    fn zero_db_is_bit_exact() {
        let mut gain = Gain::new(0.0);
        let input: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin() * 0.9).collect();
        let (mut l, mut r) = (input.clone(), input.clone());
        gain.process(&mut l, &mut r);
        assert_eq!(l, input);
        assert_eq!(r, input);
    }

    #[test]
    fn minus_twenty_db_is_a_tenth() {
        let mut gain = Gain::new(-20.0);
        let (mut l, mut r) = (vec![1.0f32], vec![-0.3f32]);
        gain.process(&mut l, &mut r);
        assert!((l[0] - 0.1).abs() < 1e-7);
        assert!((r[0] + 0.03).abs() < 1e-7);
    }
}
