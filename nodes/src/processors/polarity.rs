use super::Processor;

use super::kind::Kind;
use super::ProcessorSpec;

/// `polarity`: both channels inverted.
pub const KIND: Kind = Kind {
    name: "polarity",
    summary: "inverts the polarity of both channels",
    params: &[],
    other_props: &[],
    version: 1,
    build: Some(|_| ProcessorSpec::Polarity {}),
    in_chain: true,
    example: "polarity",
};

/// Inverts both channels.
pub struct Polarity;

impl Processor for Polarity {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        for x in left.iter_mut().chain(right.iter_mut()) {
            *x = -*x;
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity() -> bool {
    false
}

pub(super) fn describe() -> String {
    "polarity".into()
}

pub(super) fn build(_: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Polarity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverts_and_twice_is_identity() {
        let input: Vec<f32> = (0..32).map(|i| (i as f32 * 0.3).sin()).collect();
        let (mut l, mut r) = (input.clone(), input.clone());
        Polarity.process(&mut l, &mut r);
        for (a, b) in l.iter().zip(&input) {
            assert_eq!(*a, -*b);
        }
        Polarity.process(&mut l, &mut r);
        assert_eq!(l, input);
        assert_eq!(r, input);
    }
}
