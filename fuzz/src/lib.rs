//! Fuzzing for the parts of bounce that read what a user (or anyone who
//! sends them a file) controls: the KDL project reader, path templates,
//! the WAV/AIFF chunk walker, the cover reader and source decoding.
//!
//! A campaign mutates the seed corpus in `fuzz/corpus/TARGET` (bit flips,
//! chunk sizes set to edge values, spliced and cut bytes, KDL and template
//! tokens) and runs each input through the target, which must return
//! (an error is a fine answer) and never panic or hang. It runs on the
//! stable toolchain with no instrumentation: deterministic from its seed,
//! so a finding is reproduced by its seed and run number, and saved as a
//! file that becomes a regression in `fuzz/regressions/TARGET`.

mod mutate;
mod target;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use mutate::Mutator;
pub use target::Target;

/// Longer than any input of the corpus's size should take: a hang.
const SLOW: Duration = Duration::from_secs(5);

/// An input that made a target panic or hang.
#[derive(Debug)]
pub struct Finding {
    pub target: Target,
    pub input: Vec<u8>,
    /// The panic's message, or how long the input took.
    pub what: String,
    /// The campaign run that made it (with the seed, it makes it again).
    pub run: u64,
}

/// How long a campaign runs: a number of inputs (repeatable from the
/// seed) or a stretch of wall-clock time (for a long unattended run).
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Runs(u64),
    For(Duration),
}

impl Budget {
    /// Reads `100000` as runs, or `90s`, `45m`, `2h` as a time.
    pub fn parse(text: &str) -> Option<Budget> {
        let unit = match text.chars().last()? {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return text.parse().ok().map(Budget::Runs),
        };
        let amount: u64 = text[..text.len() - 1].parse().ok()?;
        Some(Budget::For(Duration::from_secs(amount.checked_mul(unit)?)))
    }

    fn allows(self, run: u64, started: Instant) -> bool {
        match self {
            Budget::Runs(runs) => run < runs,
            Budget::For(time) => started.elapsed() < time,
        }
    }
}

/// What a campaign did.
#[derive(Debug, Default)]
pub struct Stats {
    pub runs: u64,
    /// Inputs the target accepted (the rest it refused with an error).
    pub accepted: u64,
    /// Wall-clock time the campaign ran.
    pub took: Duration,
}

/// The folder of seeds for `target` in the repository.
pub fn corpus_dir(target: Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target.name())
}

/// The folder of inputs that once failed `target`, replayed by the tests.
pub fn regressions_dir(target: Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target.name())
}

/// Every file in `dir`, sorted by name (none if it is absent).
pub fn inputs_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|bytes| (p, bytes)))
        .collect()
}

/// Runs one input through `target` in `scratch`; a panic or a hang is a
/// finding. Returns whether the target accepted the input.
pub fn run_one(target: Target, input: &[u8], scratch: &Path) -> Result<bool, String> {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| target.run(input, scratch)));
    let took = started.elapsed();
    match outcome {
        Ok(_) if took > SLOW => Err(format!("took {:.1} s", took.as_secs_f64())),
        Ok(accepted) => Ok(accepted),
        Err(payload) => Err(payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into())),
    }
}

/// Mutates `seeds` from `seed` for as long as `budget` allows and runs each
/// input through `target`; stops at the first finding. Panics are caught,
/// and their messages kept quiet while it runs.
pub fn campaign(
    target: Target,
    seeds: &[Vec<u8>],
    budget: Budget,
    seed: u64,
) -> Result<Stats, Finding> {
    assert!(!seeds.is_empty(), "a campaign needs seeds");
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let mut mutator = Mutator::new(seed, target.dictionary());
    let mut stats = Stats::default();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut found = None;
    let started = Instant::now();
    let mut run = 0;
    while budget.allows(run, started) {
        let input = mutator.mutate(seeds, run);
        match run_one(target, &input, scratch.path()) {
            Ok(accepted) => stats.accepted += accepted as u64,
            Err(what) => {
                found = Some(Finding {
                    target,
                    input,
                    what,
                    run,
                });
                break;
            }
        }
        stats.runs += 1;
        run += 1;
    }
    stats.took = started.elapsed();
    std::panic::set_hook(hook);
    match found {
        Some(finding) => Err(finding),
        None => Ok(stats),
    }
}
