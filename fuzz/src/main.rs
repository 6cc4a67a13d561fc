//! `bounce-fuzz TARGET [RUNS|TIME] [SEED]`: a long campaign against one
//! target (kdl, template, chunks, cover, decode) from its seed corpus, for
//! a number of inputs or a time such as `90m`. A finding
//! is written to `fuzz/regressions/TARGET/` (the tests replay it) and
//! the command exits with status 1.

use bounce_fuzz::{campaign, corpus_dir, inputs_in, regressions_dir, Budget, Target};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(target) = args.first().and_then(|name| Target::from_name(name)) else {
        eprintln!("usage: bounce-fuzz TARGET [RUNS|TIME] [SEED]  (TIME: 90s, 45m, 2h)");
        eprintln!("targets: kdl, template, chunks, cover, decode");
        std::process::exit(2);
    };
    let budget = match args.get(1) {
        Some(text) => Budget::parse(text).unwrap_or_else(|| bad_number(text)),
        None => Budget::Runs(100_000),
    };
    let seed = match args.get(2) {
        Some(text) => text.parse().unwrap_or_else(|_| bad_number(text)),
        None => 1,
    };
    let seeds: Vec<Vec<u8>> = inputs_in(&corpus_dir(target))
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
    if seeds.is_empty() {
        eprintln!("no seeds in {}", corpus_dir(target).display());
        std::process::exit(2);
    }
    match campaign(target, &seeds, budget, seed) {
        Ok(stats) => println!(
            "{}: {} runs in {:.0} s from {} seeds (seed {seed}), {} accepted, no panic or hang",
            target.name(),
            stats.runs,
            stats.took.as_secs_f64(),
            seeds.len(),
            stats.accepted
        ),
        Err(finding) => {
            let dir = regressions_dir(target);
            let path = dir.join(format!("seed{seed}-run{}", finding.run));
            let saved =
                std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, &finding.input));
            eprintln!(
                "{}: run {} (seed {seed}): {}; input {}",
                target.name(),
                finding.run,
                finding.what,
                match saved {
                    Ok(()) => format!("saved as {}", path.display()),
                    Err(e) => format!("not saved: {e}"),
                }
            );
            std::process::exit(1);
        }
    }
}

fn bad_number(text: &str) -> ! {
    eprintln!("not a number: {text}");
    std::process::exit(2)
}
