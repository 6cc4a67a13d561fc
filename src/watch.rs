//! `bounce watch`: build, then build again whenever a project file, a
//! source or the cover changes (polled: no platform watcher to miss events
//! on network drives), with the same output as `bounce build`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bounce_engine::{load_project, BuildOptions};

use crate::args::{MessageFormat, ProjectArgs};
use crate::build_log::print_project_errors;

const POLL: Duration = Duration::from_millis(250);
/// How long a change must hold still (editors save in several writes).
const SETTLE: Duration = Duration::from_millis(100);

type Stamps = Vec<(PathBuf, Option<(u64, SystemTime)>)>;

fn stamps(paths: &[PathBuf]) -> Stamps {
    paths
        .iter()
        .map(|p| {
            let meta = std::fs::metadata(p).ok();
            let stamp = meta.and_then(|m| Some((m.len(), m.modified().ok()?)));
            (p.clone(), stamp)
        })
        .collect()
}

pub fn run(args: &ProjectArgs, options: BuildOptions, format: MessageFormat) -> Result<(), i32> {
    let mut watched = vec![args.file.clone()];
    loop {
        // Stamped before the build reads anything: an edit saved while it
        // runs, or just after its summary, starts the next one.
        let before = match load_project(&args.file) {
            Ok(project) => {
                watched = project.inputs();
                let before = stamps(&watched);
                // A failed build is reported like `bounce build`'s and the
                // watch goes on.
                let _ = crate::building::run_build(&project, options.clone(), format);
                before
            }
            Err(errors) => {
                print_project_errors(&errors);
                stamps(&watched)
            }
        };
        if format == MessageFormat::Human {
            // The report measures every delivered file: too slow for each
            // save, so watch leaves it, and says so.
            eprintln!(
                "{:>10} {} files for changes (the release report is not rebuilt: `bounce report` writes it)",
                "Watching",
                watched.len()
            );
        }
        loop {
            std::thread::sleep(POLL);
            let now = stamps(&watched);
            if now != before {
                std::thread::sleep(SETTLE);
                if stamps(&watched) == now {
                    break;
                }
            }
        }
    }
}
