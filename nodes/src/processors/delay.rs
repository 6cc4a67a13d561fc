use super::Processor;

use super::kind::{Kind, Param};
use super::ProcessorSpec;

/// `delay SECONDS …`: a feedback delay.
pub const KIND: Kind = Kind {
    name: "delay",
    summary: "a feedback delay: `mix` of the echoes beside the dry signal, each echo `feedback` times the one before; the chain rings out after its input ends",
    params: &[
        Param::argument("a delay in seconds", "s", 0.0, 10.0),
        Param::property("mix", "the echoes' share", "", 0.5, 0.0, 1.0),
        Param::property("feedback", "each echo against the one before", "", 0.0, 0.0, 0.95),
    ],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::Delay {
        seconds: v[0],
        mix: v[1],
        feedback: v[2],
    }),
    in_chain: true,
    example: "delay 0.375 mix=0.2 feedback=0.35",
};

/// A feedback delay: `mix` of the delayed signal beside `1 − mix` of the
/// input; each echo is `feedback` times the one before.
pub struct Delay {
    buffer: [Vec<f32>; 2],
    position: usize,
    mix: f32,
    feedback: f32,
}

impl Delay {
    pub fn new(seconds: f64, mix: f64, feedback: f64, rate: u32) -> Self {
        let length = ((seconds * rate as f64).round() as usize).max(1);
        Delay {
            buffer: [vec![0.0; length], vec![0.0; length]],
            position: 0,
            mix: mix as f32,
            feedback: feedback as f32,
        }
    }

    /// Frames until the echoes fall 60 dB below the first.
    pub fn tail_frames(seconds: f64, feedback: f64, rate: u32) -> u64 {
        let repeats = if feedback <= 0.0 {
            1.0
        } else {
            (60.0 / (-20.0 * feedback.log10())).ceil().min(200.0) + 1.0
        };
        (seconds * repeats * rate as f64).ceil() as u64
    }
}

impl Processor for Delay {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let frames = left.len();
        let length = self.buffer[0].len();
        for (channel, samples) in [left, right].into_iter().enumerate() {
            let buffer = &mut self.buffer[channel];
            let mut position = self.position;
            for x in samples.iter_mut() {
                let delayed = buffer[position];
                buffer[position] = *x + delayed * self.feedback;
                *x = *x * (1.0 - self.mix) + delayed * self.mix;
                position = (position + 1) % length;
            }
        }
        self.position = (self.position + frames) % length;
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(seconds: &f64, mix: &f64, _: &f64) -> bool {
    *seconds == 0.0 || *mix == 0.0
}

pub(super) fn describe(seconds: &f64, _: &f64, _: &f64) -> String {
    format!("delay {seconds} s")
}

pub(super) fn build(seconds: &f64, mix: &f64, feedback: &f64, context: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Delay::new(*seconds, *mix, *feedback, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_arrive_on_time_and_decay_by_the_feedback() {
        let mut delay = Delay::new(0.01, 0.5, 0.5, 1000);
        let mut l = vec![0.0f32; 64];
        l[0] = 1.0;
        let mut r = l.clone();
        delay.process(&mut l[..7], &mut r[..7]);
        delay.process(&mut l[7..], &mut r[7..]);
        assert_eq!(l[0], 0.5);
        assert_eq!(l[10], 0.5);
        assert_eq!(l[20], 0.25);
        assert_eq!(l[30], 0.125);
        assert!(l.iter().enumerate().all(|(i, x)| i % 10 == 0 || *x == 0.0));
    }

    #[test]
    fn tails_last_until_sixty_db_down() {
        // feedback 0.5 = -6.02 dB per echo: 10 echoes to -60 dB, plus the first.
        assert_eq!(Delay::tail_frames(0.1, 0.5, 1000), 1100);
        assert_eq!(Delay::tail_frames(0.1, 0.0, 1000), 100);
    }
}
