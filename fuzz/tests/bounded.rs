//! A bounded fuzzing run of every target (the CI's share of fuzzing), and
//! every input that once failed a target, replayed.

use bounce_fuzz::{campaign, corpus_dir, inputs_in, regressions_dir, run_one, Budget, Target};

/// Mutated inputs per target in a test run: a few seconds each.
fn runs(target: Target) -> u64 {
    match target {
        Target::Kdl => 3_000,
        Target::Decode | Target::Chunks => 4_000,
        Target::Template | Target::Cover => 20_000,
    }
}

#[test]
fn no_target_panics_or_hangs_on_mutated_seeds() {
    for target in Target::ALL {
        let seeds: Vec<Vec<u8>> = inputs_in(&corpus_dir(target))
            .into_iter()
            .map(|(_, bytes)| bytes)
            .collect();
        assert!(seeds.len() >= 3, "{}: too few seeds", target.name());
        match campaign(target, &seeds, Budget::Runs(runs(target)), 1) {
            Ok(stats) => {
                // Seeds are valid input: a target that refuses all of them
                // is not being exercised.
                assert!(
                    stats.accepted >= seeds.len() as u64,
                    "{}: {stats:?}",
                    target.name()
                );
            }
            Err(finding) => panic!(
                "{}: run {}: {} (reproduce: cargo run --release -p bounce-fuzz -- {} {} 1)",
                target.name(),
                finding.run,
                finding.what,
                target.name(),
                finding.run + 1
            ),
        }
    }
}

#[test]
fn every_seed_is_accepted() {
    let scratch = tempfile::tempdir().unwrap();
    for target in Target::ALL {
        for (path, bytes) in inputs_in(&corpus_dir(target)) {
            assert_eq!(
                run_one(target, &bytes, scratch.path()),
                Ok(true),
                "{} seed {} is refused",
                target.name(),
                path.display()
            );
        }
    }
}

#[test]
fn past_findings_stay_fixed() {
    let scratch = tempfile::tempdir().unwrap();
    for target in Target::ALL {
        for (path, bytes) in inputs_in(&regressions_dir(target)) {
            if let Err(what) = run_one(target, &bytes, scratch.path()) {
                panic!("{} {}: {what}", target.name(), path.display());
            }
        }
    }
}

#[test]
fn a_budget_reads_runs_or_a_time() {
    use std::time::Duration;
    assert!(matches!(Budget::parse("1500"), Some(Budget::Runs(1500))));
    assert!(matches!(Budget::parse("90s"), Some(Budget::For(d)) if d == Duration::from_secs(90)));
    assert!(matches!(Budget::parse("2h"), Some(Budget::For(d)) if d == Duration::from_secs(7200)));
    assert!(Budget::parse("h").is_none());
    assert!(Budget::parse("-3m").is_none());
    assert!(Budget::parse("lots").is_none());
}
