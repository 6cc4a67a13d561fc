//! The delivery checklist: each check passes, warns or fails, with the
//! figures behind it.

use serde::Serialize;

use super::InspectedFile;
use crate::model::{CheckRules, Project};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    /// What was measured, against what, in words.
    pub figures: String,
}

/// A figure that does not exist (NaN: no DC, a silent file) passes.
fn at_most(value: f64, limit: f64) -> bool {
    value.is_nan() || value <= limit
}

fn at_least(value: f64, limit: f64) -> bool {
    value.is_nan() || value >= limit
}

fn check(name: &'static str, ok: bool, severity: Status, figures: String) -> Check {
    Check {
        name,
        status: if ok { Status::Pass } else { severity },
        figures,
    }
}

/// How a tunable check that does not pass ends: a warning, unless the
/// project's `checks` makes it fail.
fn severity(rules: &CheckRules, name: &str) -> Status {
    if rules.fails(name) {
        Status::Fail
    } else {
        Status::Warn
    }
}

/// What a check's figures say it is held to.
fn holds(rules: &CheckRules, name: &str, limit: String) -> String {
    let verb = if rules.fails(name) { "fails" } else { "warns" };
    format!("{verb} {limit}")
}

/// A check the project's `checks` tunes: it passes when `ok`, else warns
/// or fails as the project says; `figures` words the measurement around
/// what it is `held` to.
fn tunable(
    rules: &CheckRules,
    name: &'static str,
    ok: bool,
    held: String,
    figures: impl FnOnce(String) -> String,
) -> Check {
    check(
        name,
        ok,
        severity(rules, name),
        figures(holds(rules, name, held)),
    )
}

/// Every check of one track, over every file delivered of it.
pub fn track_checks(files: &[InspectedFile], rules: &CheckRules) -> Vec<Check> {
    let mut checks = Vec::new();
    for file in files {
        checks.extend(level_checks(file));
        checks.extend(tunable_checks(file, rules));
    }
    checks
}

/// What a file is held to: its target and ceiling, and no overs.
fn level_checks(file: &InspectedFile) -> Vec<Check> {
    let (f, at) = (&file.figures, &file.path);
    let mut checks = Vec::new();
    if let Some(target) = file.target {
        let off = f.integrated - target;
        checks.push(check(
            "loudness",
            off.abs() <= file.tolerance,
            Status::Fail,
            format!(
                "{at}: {:.1} LUFS against {target} LUFS ±{} LU",
                f.integrated, file.tolerance
            ),
        ));
    }
    if let Some(ceiling) = file.ceiling {
        checks.push(check(
            "ceiling",
            at_most(f.true_peak, ceiling),
            Status::Fail,
            format!(
                "{at}: {:.2} dBTP against a {ceiling} dBTP ceiling",
                f.true_peak
            ),
        ));
    }
    // A float file keeps its overs; they clip in an integer copy.
    let overs_severity = if file.float {
        Status::Warn
    } else {
        Status::Fail
    };
    checks.push(check(
        "true-peak overs",
        f.overs.inter_sample == 0,
        overs_severity,
        format!(
            "{at}: {} points between samples over full scale",
            f.overs.inter_sample
        ),
    ));
    checks.push(check(
        "clipping",
        f.overs.on_sample == 0,
        overs_severity,
        format!("{at}: {} samples at full scale", f.overs.on_sample),
    ));
    checks
}

/// The checks a project's `checks` tunes, and the codec previews.
fn tunable_checks(file: &InspectedFile, rules: &CheckRules) -> Vec<Check> {
    let (f, at) = (&file.figures, &file.path);
    let mut checks = Vec::new();
    let dc = f.dc_offset[0].max(f.dc_offset[1]);
    checks.push(tunable(
        rules,
        CheckRules::DC_OFFSET,
        at_most(dc, rules.dc_offset),
        format!("over {} dBFS", rules.dc_offset),
        |held| format!("{at}: {} ({held})", db_or_none(dc, "dBFS")),
    ));
    checks.push(tunable(
        rules,
        CheckRules::SILENCE,
        f.head_silence <= rules.head_silence && f.tail_silence <= rules.tail_silence,
        format!("over {} s and {} s", rules.head_silence, rules.tail_silence),
        |held| {
            format!(
                "{at}: {:.2} s before the music, {:.2} s after ({held})",
                f.head_silence, f.tail_silence
            )
        },
    ));
    checks.push(tunable(
        rules,
        CheckRules::MONO,
        at_most(f.mono_loss, rules.mono_loss) && at_most(f.correlation.below_zero, rules.antiphase),
        format!(
            "over {} LU or {} %",
            rules.mono_loss,
            100.0 * rules.antiphase
        ),
        |held| {
            format!(
                "{at}: mono loses {:.1} LU; correlation under 0 for {:.1} % of the time ({held})",
                f.mono_loss,
                100.0 * f.correlation.below_zero
            )
        },
    ));
    checks.push(tunable(
        rules,
        CheckRules::DYNAMICS,
        at_least(f.plr, rules.plr),
        format!("under {} dB", rules.plr),
        |held| format!("{at}: PLR {:.1} dB ({held})", f.plr),
    ));
    // What a platform's encoder would make of this file: a warning,
    // since nothing here is delivered.
    for preview in &file.previews {
        let codec = preview.preview.as_deref().unwrap_or("a lossy codec");
        checks.push(check(
            "codec preview",
            preview.overs.inter_sample == 0 && preview.overs.on_sample == 0,
            Status::Warn,
            format!(
                "{at} as {codec}, decoded: {:.2} dBTP, {} points between samples and {} samples over full scale",
                preview.true_peak, preview.overs.inter_sample, preview.overs.on_sample
            ),
        ));
    }
    if !file.lossy {
        let bits = file.bits.unwrap_or(32);
        checks.push(tunable(
            rules,
            CheckRules::HI_RES,
            bits >= rules.hi_res_bits && f.sample_rate >= rules.hi_res_rate,
            format!("under {}-bit at {} Hz", rules.hi_res_bits, rules.hi_res_rate),
            |held| {
                format!(
                    "{at}: {bits}-bit at {} Hz ({held}; Apple Digital Masters asks 24-bit at 44100 Hz or more)",
                    f.sample_rate
                )
            },
        ));
    }
    checks
}

/// The release's metadata and cover, and for a CD the Red Book's limits.
pub fn album_checks(project: &Project, tracks: &[super::TrackReport]) -> Vec<Check> {
    let release = &project.release;
    let mut checks = Vec::new();
    if project
        .deliverables
        .iter()
        .any(|d| d.format.kind.disc_image())
    {
        checks.push(red_book(tracks));
    }
    let with_isrc = project.tracks.iter().filter(|t| t.isrc.is_some()).count();
    checks.push(check(
        "isrc",
        with_isrc == 0 || with_isrc == project.tracks.len(),
        Status::Fail,
        format!(
            "{with_isrc} of {} tracks have an ISRC (all or none)",
            project.tracks.len()
        ),
    ));
    let untitled: Vec<String> = project
        .tracks
        .iter()
        .filter(|t| t.title.trim().is_empty())
        .map(|t| t.number.to_string())
        .collect();
    checks.push(check(
        "titles",
        untitled.is_empty() && !release.title.trim().is_empty(),
        Status::Fail,
        if untitled.is_empty() {
            "the release and every track have a title".into()
        } else {
            format!("tracks without a title: {}", untitled.join(", "))
        },
    ));
    let artist = release.artist.is_some() || project.tracks.iter().all(|t| t.artist.is_some());
    checks.push(check(
        "artist",
        artist,
        Status::Fail,
        if artist {
            "every track has an artist".into()
        } else {
            "no artist: set `artist` on the release".into()
        },
    ));
    if let Some(upc) = &release.upc {
        // The reader has verified its check digit already.
        checks.push(check(
            "upc",
            true,
            Status::Fail,
            format!("{upc}, check digit valid"),
        ));
    }
    let rules = &project.checks;
    let cover_severity = severity(rules, CheckRules::COVER);
    checks.push(match &release.cover {
        None => check(
            CheckRules::COVER,
            false,
            cover_severity,
            "no cover art".into(),
        ),
        Some(path) => match bounce_nodes::Cover::read(path) {
            Ok(cover) => check(
                CheckRules::COVER,
                cover.width == cover.height && cover.width >= rules.cover_side,
                cover_severity,
                format!(
                    "{}×{} pixels ({}; stores ask for 1400)",
                    cover.width,
                    cover.height,
                    holds(
                        rules,
                        CheckRules::COVER,
                        format!("unless a square of at least {}", rules.cover_side)
                    ),
                ),
            ),
            Err(why) => check(CheckRules::COVER, false, cover_severity, why),
        },
    });
    checks
}

/// Under 24-bit resolution (−144 dBFS) a level is none at all.
const NONE_BELOW_DB: f64 = -144.0;

fn db_or_none(value: f64, unit: &str) -> String {
    if value > NONE_BELOW_DB {
        format!("{value:.1} {unit}")
    } else {
        "none".into()
    }
}

/// The Red Book's limits on the disc the tracks make: at most 99 tracks,
/// each at least 4 s, 79:57 in all with the gaps.
fn red_book(tracks: &[super::TrackReport]) -> Check {
    use bounce_nodes::{MAX_CD_SECONDS, MAX_CD_TRACKS, MIN_CD_TRACK_SECONDS};
    let lengths: Vec<f64> = tracks
        .iter()
        .map(|t| t.primary().map_or(0.0, |f| f.figures.seconds))
        .collect();
    let total: f64 = tracks.iter().map(|t| t.gap).sum::<f64>() + lengths.iter().sum::<f64>();
    let short = lengths
        .iter()
        .filter(|l| **l < MIN_CD_TRACK_SECONDS)
        .count();
    let fits = tracks.len() <= MAX_CD_TRACKS && short == 0 && total <= MAX_CD_SECONDS;
    check(
        "red book",
        fits,
        Status::Fail,
        format!(
            "{} tracks ({MAX_CD_TRACKS} at most), {short} shorter than {MIN_CD_TRACK_SECONDS} s, {}:{:04.1} in all with the gaps (79:57 at most)",
            tracks.len(),
            (total / 60.0) as u64,
            total % 60.0
        ),
    )
}
