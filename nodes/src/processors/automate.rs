use serde::{Deserialize, Serialize};

use super::{Pan, PanLaw, Processor, ProcessorContext};

use super::kind::Kind;

/// `automate "gain"|"pan" { at SECONDS VALUE… }`: breakpoint automation.
pub const KIND: Kind = Kind {
    name: "automate",
    summary: "moves `\"gain\"` (dB, -200 to 24) or `\"pan\"` (-1 to 1) along breakpoints, `at SECONDS VALUE`, linear between them (gain in dB) and held after the last",
    params: &[],
    other_props: &[],
    version: 1,
    build: None,
    in_chain: true,
    example: "automate \"gain\" {\n    at 0 -60\n    at 2 0\n}",
};

/// What an automation lane moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Parameter {
    /// dB, interpolated linearly in dB.
    Gain,
    /// Position, −1 to 1, interpolated linearly.
    Pan,
}

/// A breakpoint: at `time` seconds, `value`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Breakpoint {
    pub time: f64,
    pub value: f64,
}

/// A gain or pan lane: the value at each sample follows straight lines
/// between breakpoints (held before the first and after the last), and a
/// 1 ms smoother rounds the corners so a jump cannot click.
pub struct Automation {
    parameter: Parameter,
    law: PanLaw,
    /// Breakpoints in frames, sorted.
    points: Vec<(f64, f64)>,
    position: u64,
    smoothing: f64,
    smoothed: Option<(f64, f64)>,
}

impl Automation {
    pub fn new(
        parameter: Parameter,
        law: PanLaw,
        points: &[Breakpoint],
        context: &ProcessorContext,
    ) -> Self {
        let rate = context.sample_rate as f64;
        let mut points: Vec<(f64, f64)> = points.iter().map(|p| (p.time * rate, p.value)).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Automation {
            parameter,
            law,
            points,
            position: 0,
            smoothing: (-1.0 / (0.001 * rate)).exp(),
            smoothed: None,
        }
    }

    /// The lane's value at frame `t`.
    fn value_at(&self, t: f64) -> f64 {
        let after = self.points.partition_point(|(time, _)| *time <= t);
        match (
            after.checked_sub(1).map(|i| self.points[i]),
            self.points.get(after),
        ) {
            (Some(a), Some(b)) if b.0 > a.0 => a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0),
            (Some(a), _) => a.1,
            (None, Some(b)) => b.1,
            (None, None) => 0.0,
        }
    }

    /// Channel gains for a lane value.
    fn gains(&self, value: f64) -> (f64, f64) {
        match self.parameter {
            Parameter::Gain => {
                let g = crate::db_to_gain(value);
                (g, g)
            }
            Parameter::Pan => {
                let (l, r) = Pan::new(value, self.law).gains();
                (l as f64, r as f64)
            }
        }
    }
}

impl Processor for Automation {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let target = self.gains(self.value_at(self.position as f64));
            let (gl, gr) = match self.smoothed {
                // The first sample starts where the lane starts: no fade-in.
                None => target,
                Some((pl, pr)) => (
                    target.0 + (pl - target.0) * self.smoothing,
                    target.1 + (pr - target.1) * self.smoothing,
                ),
            };
            self.smoothed = Some((gl, gr));
            *l = (*l as f64 * gl) as f32;
            *r = (*r as f64 * gr) as f32;
            self.position += 1;
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(_: &Parameter, _: &[Breakpoint], _: &PanLaw) -> bool {
    false
}

pub(super) fn describe(parameter: &Parameter, _: &[Breakpoint], _: &PanLaw) -> String {
    match parameter {
        Parameter::Gain => "gain automation".into(),
        Parameter::Pan => "pan automation".into(),
    }
}

pub(super) fn build(parameter: &Parameter, points: &[Breakpoint], law: &PanLaw, context: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Automation::new(*parameter, *law, points, context))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parameter: Parameter, points: &[(f64, f64)], seconds: f64) -> (Vec<f32>, Vec<f32>) {
        let context = ProcessorContext {
            sample_rate: 1000,
            total_frames: 0,
        };
        let points: Vec<Breakpoint> = points
            .iter()
            .map(|(time, value)| Breakpoint {
                time: *time,
                value: *value,
            })
            .collect();
        let mut lane = Automation::new(parameter, PanLaw::ConstantPower, &points, &context);
        let n = (seconds * 1000.0) as usize;
        let (mut l, mut r) = (vec![1.0f32; n], vec![1.0f32; n]);
        for (a, b) in l.chunks_mut(333).zip(r.chunks_mut(333)) {
            lane.process(a, b);
        }
        (l, r)
    }

    fn db(x: f32) -> f64 {
        20.0 * (x as f64).log10()
    }

    #[test]
    fn gain_moves_linearly_in_db_and_holds_at_the_ends() {
        let (l, _) = run(Parameter::Gain, &[(1.0, -60.0), (3.0, 0.0)], 5.0);
        assert!(
            (db(l[0]) + 60.0).abs() < 1e-3,
            "held before the first point"
        );
        assert!((db(l[2000]) + 30.0).abs() < 0.2, "{}", db(l[2000]));
        assert!((db(l[2500]) + 15.0).abs() < 0.2, "{}", db(l[2500]));
        assert!(db(l[4500]).abs() < 1e-3, "held after the last point");
    }

    #[test]
    fn a_jump_is_smoothed_not_stepped() {
        let (l, _) = run(Parameter::Gain, &[(1.0, -20.0), (1.0, 0.0)], 2.0);
        // The lane jumps 20 dB at 1 s; no single sample moves more than a
        // fraction of it.
        let steps: Vec<f32> = l.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
        let largest = steps.iter().cloned().fold(0.0, f32::max);
        assert!(largest < 0.7, "a step of {largest}");
        assert!(
            db(l[1010]).abs() < 0.01,
            "settles within 10 ms: {}",
            db(l[1010])
        );
    }

    #[test]
    fn pan_sweeps_across_at_constant_power() {
        let (l, r) = run(Parameter::Pan, &[(0.0, -1.0), (2.0, 1.0)], 2.5);
        assert!((l[0] - 1.0).abs() < 1e-6 && r[0].abs() < 1e-6);
        assert!((db(l[1000]) + 3.0103).abs() < 0.05);
        for i in (0..2500).step_by(50) {
            let power = (l[i] as f64).powi(2) + (r[i] as f64).powi(2);
            assert!((power - 1.0).abs() < 1e-3, "{i}: {power}");
        }
    }
}
