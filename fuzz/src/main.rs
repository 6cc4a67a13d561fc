//! `bounce-fuzz TARGET [RUNS] [SEED]`: a long campaign against one target
//! (kdl, template, chunks, cover, decode) from its seed corpus. A finding
//! is written to `fuzz/regressions/TARGET/` (the tests replay it) and
//! the command exits with status 1.

use bounce_fuzz::{campaign, corpus_dir, inputs_in, regressions_dir, Target};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(target) = args.first().and_then(|name| Target::from_name(name)) else {
        eprintln!("usage: bounce-fuzz TARGET [RUNS] [SEED]");
        eprintln!("targets: kdl, template, chunks, cover, decode");
        std::process::exit(2);
    };
    let number = |i: usize, default: u64| {
        args.get(i)
            .map(|a| a.parse().unwrap_or_else(|_| bad_number(a)))
            .unwrap_or(default)
    };
    let (runs, seed) = (number(1, 100_000), number(2, 1));
    let seeds: Vec<Vec<u8>> = inputs_in(&corpus_dir(target))
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
    if seeds.is_empty() {
        eprintln!("no seeds in {}", corpus_dir(target).display());
        std::process::exit(2);
    }
    match campaign(target, &seeds, runs, seed) {
        Ok(stats) => println!(
            "{}: {} runs from {} seeds (seed {seed}), {} accepted, no panic or hang",
            target.name(),
            stats.runs,
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
