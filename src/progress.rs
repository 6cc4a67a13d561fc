//! Progress in an engineer's terms: seconds of audio finished out of the
//! release's, each step weighed by its typical cost (the audio a step has
//! finished is its share of the work), with an ETA from the pace of the
//! steps that actually rendered (found ones cost nothing).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bounce_engine::step::{Step, StepKind};
use bounce_engine::{Status, StepEvent};

pub struct AudioProgress {
    /// Each planned step's weight, by id.
    weights: HashMap<String, u64>,
    total: u64,
    done: u64,
    /// Of `done`, what rendered (rather than came from the cache).
    rendered: u64,
    /// The tracks planned, and each one's length once its sources are read.
    tracks: BTreeSet<u32>,
    lengths: BTreeMap<u32, f64>,
    started: Instant,
}

impl AudioProgress {
    pub fn new(steps: &[&Step]) -> Self {
        let weights: HashMap<String, u64> = steps
            .iter()
            .map(|s| (s.id.clone(), s.typical_cost()))
            .collect();
        AudioProgress {
            total: weights.values().sum(),
            weights,
            done: 0,
            rendered: 0,
            tracks: steps.iter().filter_map(|s| s.track).collect(),
            lengths: BTreeMap::new(),
            started: Instant::now(),
        }
    }

    pub fn finish(&mut self, event: &StepEvent) {
        let weight = self.weights.get(&event.step.id).copied().unwrap_or(0);
        self.done += weight;
        if event.status == Status::Built {
            self.rendered += weight;
        }
        // A track lasts as long as its mix, or its longest source until then.
        if let (Some(track), Some(seconds)) = (event.step.track, event.seconds) {
            match event.step.kind {
                StepKind::Mix => {
                    self.lengths.insert(track, seconds);
                }
                StepKind::Source => {
                    let length = self.lengths.entry(track).or_insert(0.0);
                    *length = length.max(seconds);
                }
                _ => {}
            }
        }
    }

    /// The share of the work done, 0 to 1.
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        }
    }

    /// The release's audio, once every planned track's length is known.
    fn audio(&self) -> Option<f64> {
        self.tracks
            .iter()
            .map(|t| self.lengths.get(t))
            .sum::<Option<f64>>()
            .filter(|s| *s > 0.0)
    }

    /// Time left at the pace of what rendered so far.
    fn eta(&self) -> Option<Duration> {
        let elapsed = self.started.elapsed().as_secs_f64();
        if self.rendered == 0 || elapsed < 0.5 {
            return None;
        }
        let pace = self.rendered as f64 / elapsed;
        Some(Duration::from_secs_f64(
            (self.total - self.done) as f64 / pace,
        ))
    }

    /// "12 s of 36 s of audio, about 8 s left".
    pub fn describe(&self) -> String {
        let mut text = match self.audio() {
            Some(audio) => format!(
                "{} of {} of audio",
                clock(self.fraction() * audio),
                clock(audio)
            ),
            None => format!("{:.0} % of the work", 100.0 * self.fraction()),
        };
        let eta = self
            .eta()
            .filter(|e| self.done < self.total && e.as_secs_f64() >= 1.0);
        if let Some(eta) = eta {
            text.push_str(&format!(", about {} left", clock(eta.as_secs_f64())));
        }
        text
    }
}

/// Seconds as `42 s` or `3:05`.
fn clock(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    if whole < 60 {
        format!("{whole} s")
    } else {
        format!("{}:{:02}", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bounce_engine::step::Action;

    fn step(id: &str, kind: StepKind, track: Option<u32>) -> Step {
        Step {
            id: id.into(),
            kind,
            track,
            action: Action::AlbumReplayGain { files: Vec::new() },
        }
    }

    fn event(step: &Step, status: Status, seconds: Option<f64>) -> StepEvent<'_> {
        StepEvent {
            step,
            status,
            millis: 0,
            key: None,
            error: None,
            warnings: Vec::new(),
            notes: Vec::new(),
            reason: None,
            remote: false,
            seconds,
        }
    }

    #[test]
    fn audio_is_the_work_done_times_the_release_length() {
        let steps = [
            step("source:1:a", StepKind::Source, Some(1)),
            step("mix:1", StepKind::Mix, Some(1)),
            step("master:m:1", StepKind::Master, Some(1)),
            step("source:2:a", StepKind::Source, Some(2)),
            step("mix:2", StepKind::Mix, Some(2)),
            step("master:m:2", StepKind::Master, Some(2)),
        ];
        let refs: Vec<&Step> = steps.iter().collect();
        let mut progress = AudioProgress::new(&refs);
        assert_eq!(progress.describe(), "0 % of the work");
        progress.finish(&event(&steps[0], Status::Cached, Some(100.0)));
        // Track 2's length is not known yet: work, not audio.
        assert!(progress.describe().ends_with("% of the work"));
        progress.finish(&event(&steps[3], Status::Cached, Some(80.0)));
        progress.finish(&event(&steps[1], Status::Cached, Some(120.0)));
        progress.finish(&event(&steps[4], Status::Cached, Some(80.0)));
        // Both sources and mixes done, neither master: their share of 200 s.
        let total: u64 = steps.iter().map(Step::typical_cost).sum();
        assert_eq!(progress.total, total);
        let done: u64 = [0, 1, 3, 4].map(|i| steps[i].typical_cost()).iter().sum();
        let expected = format!(
            "{} of 3:20 of audio",
            clock(200.0 * done as f64 / total as f64)
        );
        assert_eq!(progress.describe(), expected);
        progress.finish(&event(&steps[2], Status::Built, Some(120.0)));
        progress.finish(&event(&steps[5], Status::Built, Some(80.0)));
        assert_eq!(progress.fraction(), 1.0);
        assert!(progress.describe().starts_with("3:20 of 3:20 of audio"));
    }
}
