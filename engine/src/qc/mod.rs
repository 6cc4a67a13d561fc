//! The release report: every delivered file of the current version
//! inspected (once per content hash, kept in the cache), the checks a
//! mastering engineer makes before sending an album out, and the page and
//! JSON that show them (`OUTPUT/VERSION/report/`).

mod checks;
mod codec;
mod page;
mod plot;
mod references;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bounce_nodes::{inspect_file, AudioError, Inspection};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::BuildError;
use crate::model::Project;
use crate::publish::manifest::{read_manifest, ManifestFile, MANIFEST};
use crate::render::Comparison;

pub use checks::{Check, Status};

pub use crate::publish::manifest::REPORT_DIR;

/// What `report` wrote and found.
pub struct ReportOutcome {
    pub page: PathBuf,
    pub json: PathBuf,
    pub files: usize,
    /// Files measured now (the rest came from the cache).
    pub inspected: usize,
    pub checks: Vec<Check>,
}

impl ReportOutcome {
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }

    pub fn warned(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Warn)
    }
}

/// One delivered file and its inspection.
#[derive(Debug, Clone, Serialize)]
pub struct InspectedFile {
    pub deliverable: String,
    pub path: String,
    pub lossy: bool,
    /// A float file keeps samples over full scale: they clip only in an
    /// integer copy.
    pub float: bool,
    pub bits: Option<u16>,
    /// The loudness and ceiling the project asks of it.
    pub target: Option<f64>,
    pub ceiling: Option<f64>,
    /// How far from the target the file may land, LU.
    pub tolerance: f64,
    #[serde(flatten)]
    pub figures: Inspection,
    /// The file's BLAKE3, as the manifest lists it.
    #[serde(skip)]
    pub hash: String,
    /// For a lossy file: what its codec changed, against a lossless file
    /// of the same master.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec: Option<codec::CodecReport>,
    /// For a lossless file: the previews the report asked for, each a
    /// lossy encoding of it made for the report only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub previews: Vec<codec::CodecReport>,
}

/// A track's files and checks.
#[derive(Debug, Clone, Serialize)]
pub struct TrackReport {
    pub track: u32,
    pub title: String,
    pub isrc: Option<String>,
    pub gap: f64,
    pub files: Vec<InspectedFile>,
    /// The track's first lossless file against each reference.
    pub references: Vec<references::Comparison>,
    pub checks: Vec<Check>,
}

impl TrackReport {
    /// The file the page draws: the first lossless one in the project's
    /// order of deliverables, else the first.
    pub fn primary(&self) -> Option<&InspectedFile> {
        self.files
            .iter()
            .find(|f| !f.lossy)
            .or_else(|| self.files.first())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInfo {
    pub title: String,
    pub artist: Option<String>,
    pub version: String,
    pub upc: Option<String>,
    pub git: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlbumReport {
    /// Seconds, the tracks of the longest deliverable end to end with
    /// their gaps.
    pub length: f64,
    pub checks: Vec<Check>,
}

/// report.json, and what the page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub release: ReleaseInfo,
    pub album: AlbumReport,
    pub tracks: Vec<TrackReport>,
}

/// Inspects the project's current version folder and writes its report.
/// `built` holds the build's measurements (each file's inspection and
/// codec comparison, the previews); a file it lacks is inspected now.
pub fn write_report(
    project: &Project,
    cache_root: &Path,
    built: &crate::build::BuildReport,
) -> Result<ReportOutcome, BuildError> {
    let built_files: BTreeMap<&str, &crate::built::BuiltFile> =
        built.files.iter().map(|f| (f.path.as_str(), f)).collect();
    // Through no link, as every file bounce writes (the codec excerpts'
    // folder is under the report's).
    crate::path_rule::PathRule::for_version(project)
        .writable(&Path::new(REPORT_DIR).join("codec").join("index.html"))?;
    let dir = project.release.output.join(&project.release.version);
    let manifest = read_manifest(&dir.join(MANIFEST)).ok_or_else(|| BuildError::NoReport {
        why: format!(
            "{} holds no manifest: build version {} first",
            dir.display(),
            project.release.version
        ),
    })?;
    let store = InspectionStore::new(cache_root);
    let files: Vec<&ManifestFile> = manifest
        .files
        .iter()
        .filter(|f| f.track.is_some() && crate::formats::is_audio(Path::new(&f.path)))
        .collect();
    let inspections = inspect_files(&store, &dir, &files, &built_files)?;
    let inspected = inspections.iter().filter(|(_, fresh, _)| *fresh).count();
    // References, each inspected once per content like the files.
    let mut compared = Vec::new();
    for reference in &project.references {
        let hash = bounce_cache::hash_file(&reference.path).map_err(BuildError::Cache)?;
        let (figures, _) = store.inspect(&reference.path, &hash.to_hex())?;
        compared.push((reference, figures));
    }
    let mut by_track: BTreeMap<u32, Vec<InspectedFile>> = BTreeMap::new();
    let mut comparisons = BTreeMap::new();
    for (file, (figures, _, comparison)) in files.iter().zip(inspections) {
        if let Some(comparison) = comparison {
            comparisons.insert(file.path.clone(), comparison);
        }
        let wanted = project.file_targets(&file.deliverable);
        by_track
            .entry(file.track.expect("filtered"))
            .or_default()
            .push(InspectedFile {
                deliverable: file.deliverable.clone(),
                path: file.path.clone(),
                lossy: file.path.ends_with(".mp3"),
                float: file.float,
                bits: file.bits,
                target: wanted.target,
                ceiling: wanted.ceiling,
                tolerance: wanted.tolerance.unwrap_or(DEFAULT_TOLERANCE),
                figures,
                hash: file.blake3.clone(),
                codec: None,
                previews: Vec::new(),
            });
    }
    codec::compared(&store, &dir, &built_files, comparisons, &mut by_track)?;
    let unpreviewed =
        codec::requested_previews(project, &store, &dir, &built.previews, &mut by_track)?;
    let tracks = track_reports(project, by_track, &unpreviewed, &compared);
    let report = Report {
        release: ReleaseInfo {
            title: project.release.title.clone(),
            artist: project.release.artist.clone(),
            version: project.release.version.clone(),
            upc: project.release.upc.clone(),
            git: manifest
                .git
                .as_ref()
                .map(|g| format!("{}{}", g.describe, if g.dirty { " (dirty)" } else { "" })),
        },
        album: AlbumReport {
            length: album_length(&tracks),
            checks: checks::album_checks(project, &tracks),
        },
        tracks,
    };
    let (page, json) = write_pages(&dir, &report)?;
    let mut all_checks: Vec<Check> = report.album.checks.clone();
    for track in &report.tracks {
        all_checks.extend(track.checks.iter().cloned());
    }
    Ok(ReportOutcome {
        page,
        json,
        files: files.len(),
        inspected,
        checks: all_checks,
    })
}

/// Each delivered file's figures, whether they were measured now, and a
/// lossy file's codec comparison. Files are inspected in parallel, one per
/// core; a lossy file's inspection is the blob of its codec comparison:
/// read once, as both.
fn inspect_files(
    store: &InspectionStore,
    dir: &Path,
    files: &[&ManifestFile],
    built_files: &BTreeMap<&str, &crate::built::BuiltFile>,
) -> Result<Vec<(Inspection, bool, Option<Comparison>)>, BuildError> {
    files
        .par_iter()
        .map(|file| {
            let built = built_files.get(file.path.as_str());
            let inspection = built.and_then(|f| f.inspection.as_ref());
            let compared = built
                .and_then(|f| f.comparison.as_ref())
                .filter(|(_, blob)| Some(blob) == inspection)
                .and_then(|(_, blob)| store.blob_json::<Comparison>(blob));
            if let Some(comparison) = compared {
                return Ok((comparison.inspection.clone(), false, Some(comparison)));
            }
            let (figures, fresh) =
                store.delivered(&dir.join(&file.path), &file.blake3, inspection)?;
            Ok((figures, fresh, None))
        })
        .collect()
}

/// Each track's part of the report: its files in the project's order of
/// deliverables, its checks, and its references compared with it.
fn track_reports(
    project: &Project,
    mut by_track: BTreeMap<u32, Vec<InspectedFile>>,
    unpreviewed: &[(u32, String)],
    compared: &[(&crate::model::Reference, Inspection)],
) -> Vec<TrackReport> {
    project
        .tracks
        .iter()
        .filter_map(|track| {
            let mut files = by_track.remove(&track.number)?;
            // In the project's order of deliverables: the first is the
            // one the page draws (see `TrackReport::primary`).
            files.sort_by_key(|f| {
                project
                    .deliverables
                    .iter()
                    .position(|d| d.name == f.deliverable)
            });
            let mut checks = checks::track_checks(&files, &project.checks);
            // A preview asked for that no file of the track could give.
            checks.extend(
                unpreviewed
                    .iter()
                    .filter(|(number, _)| *number == track.number)
                    .map(|(_, why)| Check {
                        name: "codec preview",
                        status: Status::Warn,
                        figures: why.clone(),
                    }),
            );
            let references = files
                .iter()
                .find(|f| !f.lossy)
                .or(files.first())
                .map(|primary| {
                    compared
                        .iter()
                        .filter(|(r, _)| r.track.is_none_or(|t| t == track.number))
                        .map(|(r, figures)| {
                            references::compare(
                                &primary.figures,
                                &r.name,
                                &r.path.display().to_string(),
                                figures,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(TrackReport {
                track: track.number,
                title: track.title.clone(),
                isrc: track.isrc.clone(),
                gap: track.gap,
                files,
                references,
                checks,
            })
        })
        .collect()
}

/// Writes the report's JSON and page into the version's report folder,
/// each only if its bytes changed.
fn write_pages(dir: &Path, report: &Report) -> Result<(PathBuf, PathBuf), BuildError> {
    let out = dir.join(REPORT_DIR);
    std::fs::create_dir_all(&out).map_err(|source| BuildError::Output {
        path: out.clone(),
        source,
    })?;
    let json = out.join("report.json");
    let page = out.join("index.html");
    let text = serde_json::to_string(report).expect("a report serialises");
    write_unless_same(&json, text.as_bytes())?;
    write_unless_same(&page, page::render(report).as_bytes())?;
    Ok((page, json))
}

/// Off target by more than this fails a file with no standard, LU: the
/// solver lands within 0.1; a lossy codec moves a file a little more.
const DEFAULT_TOLERANCE: f64 = 0.5;

/// The album end to end in the deliverable with the most of it.
fn album_length(tracks: &[TrackReport]) -> f64 {
    tracks
        .iter()
        .map(|t| t.gap + t.primary().map_or(0.0, |f| f.figures.seconds))
        .sum()
}

/// Writes `bytes` whole at `path`, unless it holds them already.
fn write_unless_same(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    Ok(bounce_cache::write_atomically(path, bytes)?)
}

/// Inspections in the cache: a delivered file's from the build's
/// `inspect` step, anything else's (references, a version built
/// without its report) kept by its hash.
pub(crate) struct InspectionStore {
    dir: PathBuf,
    cache: Option<bounce_cache::Cache>,
}

impl InspectionStore {
    fn new(cache_root: &Path) -> Self {
        InspectionStore {
            dir: bounce_cache::CacheLayout::new(cache_root).inspections(),
            cache: bounce_cache::Cache::open(cache_root).ok(),
        }
    }

    /// A delivered file's inspection: the build's (`built`, the blob its
    /// inspect step made), or measured now; and whether it was measured now.
    fn delivered(
        &self,
        path: &Path,
        hash: &str,
        built: Option<&bounce_cache::Hash>,
    ) -> Result<(Inspection, bool), BuildError> {
        match built.and_then(|blob| self.blob_json(blob)) {
            Some(figures) => Ok((figures, false)),
            None => self.inspect(path, hash),
        }
    }

    /// A blob of the cache holding JSON, read; `None` when it is gone.
    fn blob_json<T: serde::de::DeserializeOwned>(&self, blob: &bounce_cache::Hash) -> Option<T> {
        let bytes = std::fs::read(self.cache.as_ref()?.blob_path(blob)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes a blob of the cache at `path` (unless it holds it already).
    fn copy_blob(&self, blob: &bounce_cache::Hash, path: &Path) -> Result<(), BuildError> {
        let from = match &self.cache {
            Some(cache) => cache.blob_path(blob),
            None => return Ok(()),
        };
        let bytes =
            std::fs::read(&from).map_err(|source| BuildError::Read { path: from, source })?;
        write_unless_same(path, &bytes)
    }

    /// The file's inspection, and whether it was measured now.
    fn inspect(&self, path: &Path, hash: &str) -> Result<(Inspection, bool), BuildError> {
        let kept = self.dir.join(format!("{hash}.json"));
        if let Some(figures) = std::fs::read(&kept)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        {
            return Ok((figures, false));
        }
        let audio = |source: AudioError| BuildError::Audio {
            step: format!("report: {}", path.display()),
            source,
        };
        let figures = inspect_file(path, bounce_nodes::AlreadyRead::default()).map_err(audio)?;
        // Keeping it is an optimisation: a cache that cannot take it
        // only means measuring again next time.
        let _ = bounce_cache::write_atomically(
            &kept,
            &serde_json::to_vec(&figures).expect("figures serialise"),
        );
        Ok((figures, true))
    }
}
