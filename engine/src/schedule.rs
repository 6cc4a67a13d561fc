//! The scheduler: runs a graph of steps in dependency order on a pool of
//! workers, the ready step with the costliest path still ahead first; finds
//! each step in the store before rendering it; renders a key once when two
//! steps share it (the second waits and finds the first's output); and
//! skips whatever depends on a failure. What a step is, where its output is
//! kept and how it renders lie behind [`Work`]: the build implements it
//! with the cache and the renderer, the tests below with fakes.

use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use bounce_cache::Hash;

/// The steps' dependencies, by index.
pub(crate) struct Dag {
    /// Each step's inputs.
    pub inputs: Vec<Vec<usize>>,
    /// Each step's consumers.
    pub consumers: Vec<Vec<usize>>,
}

impl Dag {
    pub fn new(inputs: Vec<Vec<usize>>) -> Self {
        let mut consumers = vec![Vec::new(); inputs.len()];
        for (step, ins) in inputs.iter().enumerate() {
            for input in ins {
                consumers[*input].push(step);
            }
        }
        Dag { inputs, consumers }
    }

    /// Steps in an order where every input comes before its consumers.
    fn topological(&self) -> Vec<usize> {
        let mut waiting: Vec<usize> = self.inputs.iter().map(Vec::len).collect();
        let mut order: Vec<usize> = (0..self.inputs.len())
            .filter(|s| waiting[*s] == 0)
            .collect();
        let mut next = 0;
        while next < order.len() {
            for &consumer in &self.consumers[order[next]] {
                waiting[consumer] -= 1;
                if waiting[consumer] == 0 {
                    order.push(consumer);
                }
            }
            next += 1;
        }
        order
    }
}

/// How a step ended.
pub(crate) enum Ended<O> {
    /// Its output was in the store.
    Found(O),
    /// It rendered.
    Rendered(O),
    /// It failed, saying why.
    Failed(String),
    /// It did not run: an input failed.
    InputFailed,
}

/// What the scheduler asks of the build: keys, the store and the renderer.
pub(crate) trait Work: Sync {
    type Output: Send;
    /// A step's typical cost, relative to the others: it orders the queue.
    fn cost(&self, step: usize) -> u64;
    /// A step is about to start.
    fn start(&self, _step: usize) {}
    /// A step's key, once its inputs have all ended well.
    fn key(&self, step: usize) -> Result<Hash, String>;
    /// A step's output from the store, if it is there.
    fn find(&self, step: usize, key: &Hash) -> Result<Option<Self::Output>, String>;
    /// Renders a step (and keeps its output in the store).
    fn render(&self, step: usize, key: &Hash) -> Result<Self::Output, String>;
    /// How a step ended, `millis` after it started; called once per step,
    /// before any consumer of it starts.
    fn settle(&self, step: usize, ended: Ended<Self::Output>, millis: u64);
}

/// Runs the `selected` steps of `dag` (every input of a selected step is
/// selected) on `jobs` workers, each step once its inputs have ended.
pub(crate) fn run<W: Work>(
    dag: &Dag,
    selected: &[bool],
    jobs: usize,
    work: &W,
) -> Result<(), rayon::ThreadPoolBuildError> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let waiting: Vec<AtomicUsize> = dag
        .inputs
        .iter()
        .map(|ins| AtomicUsize::new(ins.len()))
        .collect();
    let ahead = critical_paths(dag, selected, work);
    let queue = ReadyQueue {
        ready: Mutex::new(Ready {
            steps: BinaryHeap::new(),
            unfinished: selected.iter().filter(|s| **s).count(),
        }),
        changed: Condvar::new(),
    };
    for step in (0..dag.inputs.len()).filter(|s| selected[*s] && dag.inputs[*s].is_empty()) {
        queue.push(step, ahead[step]);
    }
    let shared = Shared {
        ok: (0..dag.inputs.len())
            .map(|_| AtomicBool::new(false))
            .collect(),
        in_flight: Mutex::new(HashMap::new()),
    };
    pool.scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|_| {
                while let Some(step) = queue.pop() {
                    run_step(dag, step, work, &shared);
                    for &next in &dag.consumers[step] {
                        if selected[next] && waiting[next].fetch_sub(1, Ordering::AcqRel) == 1 {
                            queue.push(next, ahead[next]);
                        }
                    }
                    queue.done();
                }
            });
        }
    });
    Ok(())
}

/// What the workers share beside the queue.
struct Shared {
    /// Per step: it ended with an output.
    ok: Vec<AtomicBool>,
    /// Per key being rendered: held while it renders.
    in_flight: Mutex<HashMap<Hash, Arc<Mutex<()>>>>,
}

fn run_step<W: Work>(dag: &Dag, step: usize, work: &W, shared: &Shared) {
    let started = Instant::now();
    work.start(step);
    let ended = if dag.inputs[step]
        .iter()
        .all(|i| shared.ok[*i].load(Ordering::Acquire))
    {
        find_or_render(step, work, shared)
    } else {
        Ended::InputFailed
    };
    let ok = matches!(ended, Ended::Found(_) | Ended::Rendered(_));
    work.settle(step, ended, started.elapsed().as_millis() as u64);
    shared.ok[step].store(ok, Ordering::Release);
}

fn find_or_render<W: Work>(step: usize, work: &W, shared: &Shared) -> Ended<W::Output> {
    let attempt = || -> Result<Ended<W::Output>, String> {
        let key = work.key(step)?;
        if let Some(found) = work.find(step, &key)? {
            return Ok(Ended::Found(found));
        }
        // Steps of one key render once: a second one waits for the first
        // and finds its output.
        let slot = shared
            .in_flight
            .lock()
            .expect("in-flight lock")
            .entry(key)
            .or_default()
            .clone();
        let _rendering = slot.lock().expect("key lock");
        if let Some(found) = work.find(step, &key)? {
            return Ok(Ended::Found(found));
        }
        work.render(step, &key).map(Ended::Rendered)
    };
    attempt().unwrap_or_else(Ended::Failed)
}

/// Per step: the cost of the costliest path from it to the end of the
/// run, itself included.
fn critical_paths<W: Work>(dag: &Dag, selected: &[bool], work: &W) -> Vec<u64> {
    let mut ahead = vec![0u64; dag.inputs.len()];
    for step in dag.topological().into_iter().rev().filter(|s| selected[*s]) {
        let after = dag.consumers[step]
            .iter()
            .filter(|c| selected[**c])
            .map(|c| ahead[*c])
            .max()
            .unwrap_or(0);
        ahead[step] = work.cost(step) + after;
    }
    ahead
}

/// The steps ready to run, costliest path first, and how many steps are
/// still to finish (workers stop when none are).
struct ReadyQueue {
    ready: Mutex<Ready>,
    changed: Condvar,
}

struct Ready {
    /// (cost ahead, the step's index, reversed so ties go to plan order).
    steps: BinaryHeap<(u64, std::cmp::Reverse<usize>)>,
    unfinished: usize,
}

impl ReadyQueue {
    fn push(&self, step: usize, ahead: u64) {
        let mut state = self.ready.lock().expect("ready lock");
        // Ties go to the earlier step in plan order: the same order every run.
        state.steps.push((ahead, std::cmp::Reverse(step)));
        self.changed.notify_one();
    }

    /// The next step to run; `None` once every step has finished.
    fn pop(&self) -> Option<usize> {
        let mut state = self.ready.lock().expect("ready lock");
        loop {
            if let Some((_, std::cmp::Reverse(step))) = state.steps.pop() {
                return Some(step);
            }
            if state.unfinished == 0 {
                return None;
            }
            state = self.changed.wait(state).expect("ready lock");
        }
    }

    /// A step finished (its ready successors are pushed already).
    fn done(&self) {
        let mut state = self.ready.lock().expect("ready lock");
        state.unfinished -= 1;
        if state.unfinished == 0 {
            self.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;
    use std::time::Duration;

    /// A fake build: each step's output is a number made from its setting
    /// and its inputs' outputs (or its setting alone when it `ignores` its
    /// inputs), its key the hash of its setting and its inputs' outputs, and
    /// the store a map from key to output shared between runs.
    struct Fake<'a> {
        dag: &'a Dag,
        settings: Vec<u64>,
        costs: Vec<u64>,
        ignores: Vec<bool>,
        fails: Vec<bool>,
        /// How long a render takes.
        slow: Duration,
        store: &'a Mutex<HashMap<Hash, u64>>,
        outputs: Vec<OnceLock<Option<u64>>>,
        /// (step, what happened), in the order it happened.
        log: Mutex<Vec<(usize, &'static str)>>,
    }

    impl<'a> Fake<'a> {
        fn new(dag: &'a Dag, store: &'a Mutex<HashMap<Hash, u64>>) -> Self {
            let n = dag.inputs.len();
            Fake {
                dag,
                settings: (0..n as u64).collect(),
                costs: vec![1; n],
                ignores: vec![false; n],
                fails: vec![false; n],
                slow: Duration::ZERO,
                store,
                outputs: (0..n).map(|_| OnceLock::new()).collect(),
                log: Mutex::new(Vec::new()),
            }
        }

        fn inputs(&self, step: usize) -> Vec<u64> {
            self.dag.inputs[step]
                .iter()
                .map(|i| {
                    self.outputs[*i]
                        .get()
                        .copied()
                        .flatten()
                        .expect("input done")
                })
                .collect()
        }

        fn events(&self, what: &str) -> Vec<usize> {
            let log = self.log.lock().unwrap();
            log.iter()
                .filter(|(_, w)| *w == what)
                .map(|(s, _)| *s)
                .collect()
        }

        fn run(&self, jobs: usize) {
            run(self.dag, &vec![true; self.dag.inputs.len()], jobs, self).unwrap();
        }
    }

    impl Work for Fake<'_> {
        type Output = u64;

        fn cost(&self, step: usize) -> u64 {
            self.costs[step]
        }

        fn start(&self, step: usize) {
            self.log.lock().unwrap().push((step, "start"));
        }

        fn key(&self, step: usize) -> Result<Hash, String> {
            let text = format!("{} {:?}", self.settings[step], self.inputs(step));
            Ok(Hash::of_bytes(text.as_bytes()))
        }

        fn find(&self, _: usize, key: &Hash) -> Result<Option<u64>, String> {
            Ok(self.store.lock().unwrap().get(key).copied())
        }

        fn render(&self, step: usize, key: &Hash) -> Result<u64, String> {
            self.log.lock().unwrap().push((step, "render"));
            std::thread::sleep(self.slow);
            if self.fails[step] {
                return Err(format!("step {step} broke"));
            }
            let inputs: u64 = match self.ignores[step] {
                true => 0,
                false => self.inputs(step).iter().sum(),
            };
            let output = self.settings[step] * 1000 + inputs;
            self.store.lock().unwrap().insert(*key, output);
            Ok(output)
        }

        fn settle(&self, step: usize, ended: Ended<u64>, _: u64) {
            let (output, what) = match ended {
                Ended::Found(o) => (Some(o), "found"),
                Ended::Rendered(o) => (Some(o), "rendered"),
                Ended::Failed(_) => (None, "failed"),
                Ended::InputFailed => (None, "skipped"),
            };
            self.log.lock().unwrap().push((step, what));
            self.outputs[step].set(output).unwrap();
        }
    }

    /// Two sources, a sum of each through a chain, and a final mix:
    /// 0 → 2 → 4 ↘
    ///               6
    /// 1 → 3 → 5 ↗
    fn two_chains() -> Dag {
        Dag::new(vec![
            vec![],
            vec![],
            vec![0],
            vec![1],
            vec![2],
            vec![3],
            vec![4, 5],
        ])
    }

    #[test]
    fn every_step_starts_after_its_inputs_end_at_any_job_count() {
        let dag = two_chains();
        for jobs in [1, 2, 4] {
            let store = Mutex::new(HashMap::new());
            let fake = Fake::new(&dag, &store);
            fake.run(jobs);
            let log = fake.log.lock().unwrap().clone();
            for (at, (step, what)) in log.iter().enumerate() {
                if *what != "start" {
                    continue;
                }
                for input in &dag.inputs[*step] {
                    let settled = log.iter().position(|(s, w)| s == input && *w != "start");
                    assert!(settled.is_some_and(|p| p < at), "{step} before {input}");
                }
            }
            assert_eq!(fake.events("rendered").len(), 7);
            // The same outputs at any job count: 6's setting, then 4's
            // (and 2's, 0's) and 5's (and 3's, 1's).
            assert_eq!(fake.outputs[6].get(), Some(&Some(6000 + 6000 + 9000)));
        }
    }

    #[test]
    fn the_costliest_path_ahead_runs_first() {
        // Step 0 is cheap but opens a long chain; step 1 is dearer alone.
        let dag = Dag::new(vec![vec![], vec![], vec![0], vec![2]]);
        let store = Mutex::new(HashMap::new());
        let mut fake = Fake::new(&dag, &store);
        fake.costs = vec![1, 5, 10, 10];
        fake.run(1);
        assert_eq!(fake.events("start"), vec![0, 2, 3, 1]);
        // Ties go to plan order.
        let flat = Dag::new(vec![vec![], vec![], vec![]]);
        let store = Mutex::new(HashMap::new());
        let mut flat_fake = Fake::new(&flat, &store);
        flat_fake.costs = vec![3, 3, 3];
        flat_fake.run(1);
        assert_eq!(flat_fake.events("start"), vec![0, 1, 2]);
    }

    #[test]
    fn a_second_run_finds_everything_and_an_unchanged_output_cuts_off() {
        let dag = two_chains();
        let store = Mutex::new(HashMap::new());
        Fake::new(&dag, &store).run(2);
        let again = Fake::new(&dag, &store);
        again.run(2);
        assert_eq!(again.events("found").len(), 7);
        assert!(again.events("render").is_empty());
        // Source 0 changes; step 2 ignores what it reads (a gate whose
        // output stays the same), so what comes after it is found.
        let mut edited = Fake::new(&dag, &store);
        edited.settings[0] = 99;
        edited.ignores[2] = true;
        edited.run(2);
        assert_eq!(edited.events("render"), vec![0, 2]);
        let mut found = edited.events("found");
        found.sort();
        assert_eq!(found, vec![1, 3, 4, 5, 6]);
    }

    #[test]
    fn steps_of_one_key_render_once_and_the_other_finds_it() {
        // Two identical tracks: same settings, same inputs, so same keys.
        let dag = Dag::new(vec![vec![], vec![], vec![0], vec![1]]);
        let store = Mutex::new(HashMap::new());
        let mut fake = Fake::new(&dag, &store);
        fake.settings = vec![7, 7, 8, 8];
        fake.slow = Duration::from_millis(200);
        fake.run(2);
        // The two sources started before either ended: they ran side by
        // side, and the second waited for the first's render.
        let log = fake.log.lock().unwrap().clone();
        let first_end = log
            .iter()
            .position(|(s, w)| *s < 2 && matches!(*w, "rendered" | "found"))
            .unwrap();
        let starts = log[..first_end]
            .iter()
            .filter(|(s, w)| *s < 2 && *w == "start");
        assert_eq!(starts.count(), 2, "{log:?}");
        assert_eq!(fake.events("rendered").len(), 2, "{:?}", fake.log);
        assert_eq!(fake.events("found").len(), 2, "{:?}", fake.log);
        assert_eq!(fake.outputs[2].get(), fake.outputs[3].get());
    }

    #[test]
    fn a_failure_skips_what_depends_on_it_and_nothing_else() {
        let dag = two_chains();
        let store = Mutex::new(HashMap::new());
        let mut fake = Fake::new(&dag, &store);
        fake.fails[2] = true;
        fake.run(2);
        assert_eq!(fake.events("failed"), vec![2]);
        let mut skipped = fake.events("skipped");
        skipped.sort();
        assert_eq!(skipped, vec![4, 6]);
        let mut rendered = fake.events("rendered");
        rendered.sort();
        assert_eq!(rendered, vec![0, 1, 3, 5]);
        // A failure is not stored: the next run renders it again.
        let mut again = Fake::new(&dag, &store);
        again.fails[2] = false;
        again.run(2);
        let mut rendered = again.events("rendered");
        rendered.sort();
        assert_eq!(rendered, vec![2, 4, 6]);
    }

    #[test]
    fn unselected_steps_do_not_run() {
        let dag = two_chains();
        let store = Mutex::new(HashMap::new());
        let fake = Fake::new(&dag, &store);
        let selected = [true, false, true, false, true, false, false];
        run(&dag, &selected, 2, &fake).unwrap();
        let mut started = fake.events("start");
        started.sort();
        assert_eq!(started, vec![0, 2, 4]);
    }
}
