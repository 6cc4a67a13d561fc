//! How builds are shown: progress bars on a terminal, plain lines
//! elsewhere, or JSON lines for tools.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::output::outln;
use crate::progress::AudioProgress;
use bounce_engine::step::Step;
use bounce_engine::{BuildError, BuildReport, Observer, ProjectErrors, Status, StepEvent};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// The most errors shown in full: past a few screens more help nobody,
/// and each one shown reads its file up to its line.
const SHOWN_ERRORS: usize = 100;

pub fn print_project_errors(errors: &ProjectErrors) {
    for diagnostic in errors.0.iter().take(SHOWN_ERRORS) {
        eprintln!("{:?}", miette::Report::new(diagnostic.clone()));
    }
    if let Some(more) = errors.0.len().checked_sub(SHOWN_ERRORS).filter(|n| *n > 0) {
        eprintln!(
            "… and {more} more error{} not shown: mend these first",
            if more == 1 { "" } else { "s" }
        );
    }
    eprintln!("error: {errors}");
}

/// An error and the causes its own message does not already give (most
/// of bounce's messages end with their cause, so each is said once).
pub fn print_build_error(error: &BuildError) {
    // The plan's findings (two files on one path, an output over an
    // input) are shown as the reader's are, at their place in the file.
    if let BuildError::Project(errors) = error {
        return print_project_errors(errors);
    }
    let mut message = format!("error: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(&format!("\n  caused by: {text}"));
        }
        source = cause.source();
    }
    eprintln!("{message}");
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Built => "built",
        Status::Cached => "cached",
        Status::Failed => "failed",
        Status::Stale => "stale",
    }
}

/// One JSON object per step on standard output, then a summary object.
#[derive(Default)]
pub struct JsonObserver {
    out: Mutex<()>,
}

impl JsonObserver {
    pub fn summary(&self, report: &BuildReport, elapsed: Duration) {
        let line = serde_json::json!({
            "summary": true,
            "built": report.built,
            "cached": report.cached,
            "failed": report.failed,
            "stale": report.stale,
            "written": report.written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "unchanged": report.unchanged.len(),
            "removed": report.removed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "evicted": report.evicted.blobs,
            "ms": elapsed.as_millis() as u64,
        });
        let mut line = line;
        if let Some(remote) = &report.remote {
            // People read standard error whatever the format.
            remote_warnings(remote);
            line["remote"] = serde_json::json!({
                "hits": remote.hits,
                "downloaded": remote.downloaded,
                "uploaded": remote.uploaded,
                "warning": remote.warning,
                "damaged": remote.damaged,
            });
        }
        let _guard = self.out.lock();
        outln!("{line}");
    }
}

impl Observer for JsonObserver {
    fn waiting(&self, what: &std::path::Path) {
        eprintln!(
            "waiting for another bounce build to release {}",
            what.display()
        );
    }

    fn finished(&self, event: &StepEvent) {
        let mut line = serde_json::json!({
            "step": event.step.id,
            "kind": event.step.kind.name(),
            "track": event.step.track,
            "status": status_word(event.status),
            "ms": event.millis,
        });
        if let Some(key) = &event.key {
            line["key"] = key.to_hex().into();
        }
        if let Some(error) = &event.error {
            line["error"] = error.clone().into();
        }
        if !event.warnings.is_empty() {
            line["warnings"] = event.warnings.clone().into();
            // Said when the step rendered, in an earlier build.
            line["warnings_recalled"] = (event.status == Status::Cached).into();
        }
        if !event.notes.is_empty() {
            line["notes"] = event.notes.clone().into();
        }
        if let Some(reason) = &event.reason {
            line["reason"] = reason.to_string().into();
            line["reason_code"] = reason.code().into();
        }
        if event.status == Status::Cached {
            line["cache"] = if event.remote { "remote" } else { "local" }.into();
        }
        let _guard = self.out.lock();
        outln!("{line}");
    }
}

/// Progress for people: bars on a terminal; elsewhere (a pipe, `tee`, CI)
/// a line per rendered file and a progress line now and then.
pub struct HumanObserver {
    bars: Option<(MultiProgress, ProgressBar)>,
    in_flight: Mutex<Vec<(String, ProgressBar)>>,
    dry_run: bool,
    progress: Mutex<Option<AudioProgress>>,
    /// When the last progress line was printed (without a terminal).
    said: Mutex<Option<Instant>>,
    /// Steps not run because an input failed: counted, not listed (the
    /// failure itself is the line worth reading).
    skipped: std::sync::atomic::AtomicUsize,
}

/// How often, at most, a progress line is printed without a terminal.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

impl HumanObserver {
    pub fn new(terminal: bool, dry_run: bool) -> Self {
        let bars = (terminal && !dry_run).then(|| {
            let multi = MultiProgress::new();
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{prefix:>10.cyan.bold} [{bar:30}] {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            overall.set_prefix("Building");
            (multi, overall)
        });
        HumanObserver {
            bars,
            in_flight: Mutex::new(Vec::new()),
            dry_run,
            progress: Mutex::new(None),
            said: Mutex::new(None),
            skipped: Default::default(),
        }
    }

    fn line(&self, text: String) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    /// Without a terminal: where the build stands, at a rendered file
    /// when none was said in the last [`PROGRESS_EVERY`].
    fn progress_line(&self, text: Option<String>) {
        if self.bars.is_some() || self.dry_run {
            return;
        }
        let Some(text) = text else { return };
        let mut said = self.said.lock().expect("progress lock");
        if said.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY) {
            *said = Some(Instant::now());
            eprintln!("{:>10} {text}", "Progress");
        }
    }

    pub fn finish(&self) {
        if let Some((multi, overall)) = &self.bars {
            overall.finish_and_clear();
            let _ = multi.clear();
        }
        let skipped = self.skipped.load(std::sync::atomic::Ordering::Relaxed);
        if skipped > 0 {
            eprintln!(
                "{:>10} {} whose inputs failed (`-v` lists them)",
                "Skipped",
                bounce_engine::count(skipped, "step")
            );
        }
    }

    pub fn summary(&self, report: &BuildReport, elapsed: Duration) {
        if let Some(remote) = &report.remote {
            remote_summary(remote);
        }
        if self.dry_run {
            // The answer of a query goes to standard output.
            outln!(
                "{:>10} {} would render, {} cached",
                "Dry run",
                bounce_engine::count(report.stale, "step"),
                report.cached
            );
            return;
        }
        let files = report
            .written
            .iter()
            .filter(|p| !p.ends_with("manifest.json"))
            .count();
        eprintln!(
            "{:>10} {} built, {} cached in {:.2}s; {} written, {} unchanged in {}",
            "Finished",
            report.built,
            report.cached,
            elapsed.as_secs_f64(),
            bounce_engine::count(files, "file"),
            report.unchanged.len(),
            report.version_dir.display()
        );
        files_table(report);
        let noted = report
            .files
            .iter()
            .filter(|f| !f.info.notes.is_empty())
            .count();
        if noted > 0 {
            eprintln!(
                "{:>10} {} corrected for level or peaks at their own rate (notes in the manifest)",
                "Noted",
                bounce_engine::count(noted, "file")
            );
        }
        for path in &report.removed {
            eprintln!(
                "{:>10} {} (an earlier build of this version wrote it; the project makes it no more)",
                "Removed",
                path.display()
            );
        }
        if report.evicted.blobs > 0 {
            eprintln!(
                "{:>10} {} cached files ({:.1} MB) to keep the cache under its cap",
                "Evicted",
                report.evicted.blobs,
                report.evicted.bytes as f64 / 1e6
            );
        }
    }
}

impl Observer for HumanObserver {
    fn waiting(&self, what: &std::path::Path) {
        self.line(format!(
            "{:>10} for another bounce build to release {}",
            "Waiting",
            what.display()
        ));
    }

    fn planned(&self, steps: &[&Step]) {
        if let Some((_, overall)) = &self.bars {
            overall.set_length(1000);
        }
        *self.progress.lock().expect("progress lock") = Some(AudioProgress::new(steps));
    }

    fn started(&self, step: &Step) {
        if let Some((multi, _)) = &self.bars {
            let spinner = multi.add(ProgressBar::new_spinner());
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
            );
            spinner.set_message(step.id.clone());
            spinner.enable_steady_tick(Duration::from_millis(120));
            self.in_flight
                .lock()
                .expect("progress lock")
                .push((step.id.clone(), spinner));
        }
    }

    fn finished(&self, event: &StepEvent) {
        let said = self
            .progress
            .lock()
            .expect("progress lock")
            .as_mut()
            .map(|p| {
                p.finish(event);
                (p.fraction(), p.describe())
            });
        if let Some((multi, overall)) = &self.bars {
            if let Some((fraction, text)) = &said {
                overall.set_position((fraction * 1000.0) as u64);
                overall.set_message(text.clone());
            }
            let mut in_flight = self.in_flight.lock().expect("progress lock");
            if let Some(i) = in_flight.iter().position(|(id, _)| *id == event.step.id) {
                let (_, spinner) = in_flight.remove(i);
                spinner.finish_and_clear();
                multi.remove(&spinner);
            }
        }
        // A cached step's warnings were said when it rendered: recalled,
        // so a build that renders nothing does not look like it found news.
        for warning in &event.warnings {
            let id = &event.step.id;
            self.line(match event.status {
                Status::Cached => format!("{:>10} {id}: {warning} (from the cache)", "Recalled"),
                _ => format!("{:>10} {id}: {warning}", "Warning"),
            });
        }
        match event.status {
            Status::Cached => {}
            // What a dry run finds is its answer: standard output.
            Status::Stale => outln!(
                "{:>10} {}: {}",
                "Stale",
                event.step.id,
                event
                    .reason
                    .as_ref()
                    .map_or("not in the cache".to_string(), ToString::to_string)
            ),
            // The files are news; the steps inside a track are detail.
            Status::Built if shows_file(event.step.kind) || crate::output::verbose() => {
                self.line(format!(
                    "{:>10} {} ({} ms)",
                    "Rendered", event.step.id, event.millis
                ));
                self.progress_line(said.map(|(_, text)| text));
            }
            Status::Built => {}
            Status::Failed
                if event.error.as_deref() == Some(bounce_engine::INPUT_FAILED)
                    && !crate::output::verbose() =>
            {
                self.skipped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Status::Failed => {
                let error = event.error.as_deref().unwrap_or("failed");
                // Build errors name their step already.
                let error = error
                    .strip_prefix(event.step.id.as_str())
                    .and_then(|rest| rest.strip_prefix(": "))
                    .unwrap_or(error);
                self.line(format!("{:>10} {}: {error}", "Failed", event.step.id))
            }
        }
    }
}

/// What the shared cache did, and its warnings, each said once.
fn remote_summary(remote: &bounce_cache::RemoteReport) {
    remote_warnings(remote);
    if remote.hits > 0 || remote.uploaded > 0 {
        eprintln!(
            "{:>10} {} from the shared cache ({:.1} MB down), {:.1} MB up",
            "Shared",
            bounce_engine::count(remote.hits as usize, "step"),
            remote.downloaded as f64 / 1e6,
            remote.uploaded as f64 / 1e6
        );
    }
}

/// A damaged download (named by its step's key) and a remote that failed.
fn remote_warnings(remote: &bounce_cache::RemoteReport) {
    for key in &remote.damaged {
        eprintln!(
            "warning: the shared cache holds damaged bytes for step key {key}: rendered here instead"
        );
    }
    if let Some(warning) = &remote.warning {
        eprintln!("warning: {warning}");
    }
}

/// Steps whose output is a delivered file (its audio, a CD image or its
/// sheet): said as they render. The rest only with `-v`.
fn shows_file(kind: bounce_engine::step::StepKind) -> bool {
    use bounce_engine::step::StepKind;
    matches!(
        kind,
        StepKind::Deliverable | StepKind::Export | StepKind::Image | StepKind::Cue
    )
}

/// Every file this build wrote, in an engineer's terms: its loudness and
/// true peak, each against what the project asks of it.
fn files_table(report: &BuildReport) {
    let written: std::collections::BTreeSet<&std::path::Path> =
        report.written.iter().map(|p| p.as_path()).collect();
    let rows: Vec<_> = report
        .files
        .iter()
        .filter(|f| written.contains(report.version_dir.join(&f.path).as_path()))
        .map(|f| (f, f.info.measured.as_ref()))
        .collect();
    if rows.is_empty() {
        return;
    }
    let width = rows
        .iter()
        .map(|(f, _)| f.path.chars().count())
        .max()
        .unwrap_or(0);
    eprintln!(
        "{:>10} {:<width$}  {:>24}  {:>24}  {:>18}  before this build",
        "Files", "", "loudness", "true peak", "limiting max, mean"
    );
    for (file, measured) in rows {
        // Every file written has its row: a CUE sheet is text.
        let Some(measured) = measured else {
            let before = match report.before.iter().any(|b| b.path == file.path) {
                true => "changed",
                false => "new",
            };
            eprintln!(
                "{:>10} {:<width$}  {:>24}  {:>24}  {:>18}  {before}",
                "", file.path, "text", "", ""
            );
            continue;
        };
        let loudness = match (measured.integrated, file.targets.target) {
            (Some(l), Some(t)) if (l - t).abs() < 0.05 => format!("{l:.1} LUFS (on target)"),
            (Some(l), Some(t)) => format!("{l:.1} LUFS ({:+.1} LU)", l - t),
            (Some(l), None) => format!("{l:.1} LUFS"),
            (None, _) => "silent".into(),
        };
        let peak = match (measured.true_peak, file.targets.ceiling) {
            (Some(p), Some(c)) if p > c => format!("{p:.2} dBTP (OVER by {:.2})", p - c),
            (Some(p), Some(c)) => format!("{p:.1} dBTP ({:.1} under)", c - p),
            (Some(p), None) => format!("{p:.1} dBTP"),
            (None, _) => "—".into(),
        };
        // The most the master's limiter took off to reach its target.
        let limiting = match (file.info.limiter_reduction, file.info.limiter_mean) {
            (Some(most), Some(mean)) => format!(
                "{:.1} dB, {:.2} dB",
                bounce_engine::rounded(most, 1),
                bounce_engine::rounded(mean, 2)
            ),
            (Some(most), None) => format!("{:.1} dB", bounce_engine::rounded(most, 1)),
            _ => String::new(),
        };
        // What this version's file was before this build wrote it.
        let before = match report.before.iter().find(|b| b.path == file.path) {
            None => "new".to_string(),
            Some(b) => match (b.integrated_loudness, b.true_peak) {
                (Some(l), Some(p)) => format!("{l:.1} LUFS, {p:.1} dBTP"),
                _ => "changed".to_string(),
            },
        };
        eprintln!(
            "{:>10} {:<width$}  {loudness:>24}  {peak:>24}  {limiting:>18}  {before}",
            "", file.path
        );
    }
}
