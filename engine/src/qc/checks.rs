//! The delivery checklist: each check passes, warns or fails, with the
//! figures behind it.

use serde::Serialize;

use super::InspectedFile;
use crate::model::Project;

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

/// DC offset over this is a warning, dBFS.
const DC_WARN_DBFS: f64 = -50.0;
/// Silence before the music over this is a warning, seconds.
const HEAD_WARN_S: f64 = 1.0;
/// Silence after the music over this is a warning, seconds.
const TAIL_WARN_S: f64 = 3.0;
/// A mono fold-down losing more than this is a warning, LU.
const MONO_LOSS_WARN_LU: f64 = 3.0;
/// Correlation under 0 for more than this share of the time warns.
const ANTIPHASE_WARN_SHARE: f64 = 0.01;
/// PLR under this is heavily limited, dB.
const PLR_WARN_DB: f64 = 8.0;
/// Apple Digital Masters asks 24-bit at 44.1 kHz or more of lossless files.
const HI_RES_BITS: u16 = 24;
const HI_RES_RATE: u32 = 44_100;
/// Stores ask for square cover art of at least this many pixels a side.
const COVER_SIDE: u32 = 1400;

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

/// Every check of one track, over every file delivered of it.
pub fn track_checks(files: &[InspectedFile]) -> Vec<Check> {
    let mut checks = Vec::new();
    for file in files {
        let f = &file.figures;
        let at = &file.path;
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
        let dc = f.dc_offset[0].max(f.dc_offset[1]);
        checks.push(check(
            "dc offset",
            at_most(dc, DC_WARN_DBFS),
            Status::Warn,
            format!(
                "{at}: {} (warns over {DC_WARN_DBFS} dBFS)",
                db_or_none(dc, "dBFS")
            ),
        ));
        checks.push(check(
            "silence",
            f.head_silence <= HEAD_WARN_S && f.tail_silence <= TAIL_WARN_S,
            Status::Warn,
            format!(
                "{at}: {:.2} s before the music, {:.2} s after (warns over {HEAD_WARN_S} s and {TAIL_WARN_S} s)",
                f.head_silence, f.tail_silence
            ),
        ));
        checks.push(check(
            "mono",
            at_most(f.mono_loss, MONO_LOSS_WARN_LU)
                && at_most(f.correlation.below_zero, ANTIPHASE_WARN_SHARE),
            Status::Warn,
            format!(
                "{at}: mono loses {:.1} LU; correlation under 0 for {:.1} % of the time",
                f.mono_loss,
                100.0 * f.correlation.below_zero
            ),
        ));
        checks.push(check(
            "dynamics",
            at_least(f.plr, PLR_WARN_DB),
            Status::Warn,
            format!("{at}: PLR {:.1} dB (warns under {PLR_WARN_DB} dB)", f.plr),
        ));
        if !file.lossy {
            let bits = file.bits.unwrap_or(32);
            checks.push(check(
                "hi-res",
                bits >= HI_RES_BITS && f.sample_rate >= HI_RES_RATE,
                Status::Warn,
                format!(
                    "{at}: {bits}-bit at {} Hz (Apple Digital Masters asks {HI_RES_BITS}-bit at {HI_RES_RATE} Hz or more)",
                    f.sample_rate
                ),
            ));
        }
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
        .any(|d| d.format == crate::model::FileFormat::Cd)
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
    checks.push(match &release.cover {
        None => check("cover", false, Status::Warn, "no cover art".into()),
        Some(path) => match bounce_nodes::Cover::read(path) {
            Ok(cover) => check(
                "cover",
                cover.width == cover.height && cover.width >= COVER_SIDE,
                Status::Warn,
                format!(
                    "{}×{} pixels (stores ask for a square of at least {COVER_SIDE})",
                    cover.width, cover.height
                ),
            ),
            Err(why) => check("cover", false, Status::Warn, why),
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
