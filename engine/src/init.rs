//! `bounce init`: a starting project file from a folder of stems, one
//! track per sub-folder (or one track from the folder itself), each file's
//! format and rate checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bounce_nodes::{probe_file, AudioError, FileInfo};

const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "aif", "aiff", "flac", "mp3", "ogg", "m4a"];

/// What `init` found, or why it stopped.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} already exists; bounce init does not overwrite a project")]
    Exists(PathBuf),
    #[error("no audio files in {0} or its sub-folders")]
    NoStems(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} file(s) cannot be used:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    BadFiles(Vec<AudioError>),
}

/// One stem found: its path relative to the project folder and format.
pub struct FoundStem {
    pub path: PathBuf,
    pub info: FileInfo,
}

/// The project file's text, where it goes, and the stems it names (per
/// track).
pub struct Started {
    pub text: String,
    pub file: PathBuf,
    pub tracks: Vec<(String, Vec<FoundStem>)>,
    /// What `init` chose for the user, and why, in a line each.
    pub choices: Vec<String>,
}

/// File names taken for the release's cover art, as music folders name it.
const COVER_NAMES: &[&str] = &["cover", "folder", "front", "artwork"];

/// Where the project for the stems in `dir` goes: beside the folder (so
/// its cache and outputs are not mixed into the stems), or in `dir` when
/// it is the current folder.
pub fn project_file_for(dir: &Path) -> PathBuf {
    let here = dir.as_os_str().is_empty() || dir == Path::new(".");
    match dir.parent().filter(|_| !here) {
        Some(parent) if parent.as_os_str().is_empty() => PathBuf::from("bounce.kdl"),
        Some(parent) => parent.join("bounce.kdl"),
        None => dir.join("bounce.kdl"),
    }
}

fn audio_files(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let io = |source| InitError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// A KDL string literal.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn name_of(path: &Path) -> String {
    path.file_stem()
        .or(path.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "untitled".into())
}

/// Reads `dir` and writes nothing: returns the project text for it.
pub fn start_project(dir: &Path) -> Result<Started, InitError> {
    let file = project_file_for(dir);
    if file.exists() {
        return Err(InitError::Exists(file));
    }
    // Stem paths are written relative to the project file's folder.
    let base = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut groups: Vec<(String, Vec<PathBuf>)> = Vec::new();
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| InitError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            !matches!(
                p.file_name().and_then(|n| n.to_str()),
                Some("out" | ".bounce" | ".git")
            )
        })
        .collect();
    subdirs.sort();
    for sub in subdirs {
        let files = audio_files(&sub)?;
        if !files.is_empty() {
            groups.push((name_of(&sub), files));
        }
    }
    if groups.is_empty() {
        let files = audio_files(dir)?;
        let title = std::path::absolute(dir)
            .ok()
            .map(|d| name_of(&d))
            .unwrap_or_else(|| "Untitled".into());
        if !files.is_empty() {
            groups.push((title, files));
        }
    }
    if groups.is_empty() {
        return Err(InitError::NoStems(dir.to_path_buf()));
    }
    let mut bad = Vec::new();
    let mut tracks = Vec::new();
    for (title, files) in groups {
        let mut stems = Vec::new();
        for path in files {
            match probe_file(&path) {
                Ok(info) => stems.push(FoundStem {
                    path: relative_to(&path, &base),
                    info,
                }),
                Err(error) => bad.push(error),
            }
        }
        tracks.push((title, stems));
    }
    if !bad.is_empty() {
        return Err(InitError::BadFiles(bad));
    }
    let cover = find_cover(dir).map(|c| relative_to(&c, &base));
    // The release is named after the project's folder.
    let named = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &base
    };
    let text = project_text(named, &tracks, cover.as_deref());
    let mut choices = Vec::new();
    if file.parent() != Some(dir) && !(dir.as_os_str().is_empty() || dir == Path::new(".")) {
        choices.push(format!(
            "{} beside {}, so the cache and the outputs stay out of the stems",
            file.display(),
            dir.display()
        ));
    }
    choices.push(release_rate(&tracks).1);
    choices.push(match &cover {
        Some(cover) => format!("cover: {}, found beside the stems", cover.display()),
        None => format!(
            "cover: none found (a JPEG or PNG named {} beside the stems), so its line is left commented",
            COVER_NAMES.join(", ")
        ),
    });
    choices.push(
        "a master at -14 LUFS under a -1 dBTP ceiling, as the streaming services play it, and a 24-bit WAV of it; artist, year, UPC and ISRCs are placeholders to fill in".into(),
    );
    Ok(Started {
        text,
        file,
        tracks,
        choices,
    })
}

/// The year now, for a placeholder the user edits (files never carry
/// the clock: a release's dates come from its `year`).
fn this_year() -> u64 {
    const SECONDS_PER_YEAR: u64 = 31_556_952; // 365.2425 days
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(2026, |d| 1970 + d.as_secs() / SECONDS_PER_YEAR)
}

/// `path` relative to the folder `base` ("" for the current folder).
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base).unwrap_or(path).to_path_buf()
}

/// A JPEG or PNG named as cover art, in `dir`.
fn find_cover(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_ascii_lowercase);
            let ext = p
                .extension()
                .and_then(|s| s.to_str())
                .map(str::to_ascii_lowercase);
            p.is_file()
                && stem.is_some_and(|s| COVER_NAMES.contains(&s.as_str()))
                && ext.is_some_and(|e| matches!(e.as_str(), "jpg" | "jpeg" | "png"))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The most common rate among the stems (the higher on a tie), but never
/// under 44.1 kHz: a release of 22.05 kHz speech is still delivered at a
/// rate players and stores take, in the stems' own family of rates.
/// Returns the rate and why, in words.
fn release_rate(tracks: &[(String, Vec<FoundStem>)]) -> (u32, String) {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for stem in tracks.iter().flat_map(|(_, s)| s) {
        *counts.entry(stem.info.sample_rate).or_default() += 1;
    }
    let total: usize = counts.values().sum();
    let Some((common, n)) = counts.into_iter().max_by_key(|(rate, n)| (*n, *rate)) else {
        return (48_000, "sample-rate 48000: no stems to go by".into());
    };
    let rate = match common {
        r if r >= 44_100 => r,
        r if 44_100 % r == 0 => 44_100,
        _ => 48_000,
    };
    let why = if rate == common {
        format!("sample-rate {rate}: the rate of {n} of the {total} stems")
    } else {
        format!(
            "sample-rate {rate}: most stems are at {common} Hz, but a release is delivered at 44.1 kHz or more (in the stems' family of rates)"
        )
    };
    (rate, why)
}

fn project_text(dir: &Path, tracks: &[(String, Vec<FoundStem>)], cover: Option<&Path>) -> String {
    let title = std::path::absolute(dir)
        .ok()
        .map(|d| name_of(&d))
        .unwrap_or_else(|| "Untitled".into());
    let mut out = String::new();
    out.push_str("// Written by `bounce init`: edit freely.\n");
    out.push_str(&format!("release {} {{\n", quoted(&title)));
    out.push_str("    // artist \"The Artist\"\n");
    out.push_str(&format!("    // year {}\n", this_year()));
    out.push_str("    // label \"The Label\"\n");
    out.push_str("    // upc \"012345678905\"\n");
    out.push_str("    version \"1.0.0\"\n");
    if let Some(cover) = cover {
        out.push_str(&format!(
            "    cover {}\n",
            quoted(&crate::template::portable(cover))
        ));
    } else {
        out.push_str("    // cover \"cover.jpg\"\n");
    }
    out.push_str(&format!(
        "    sample-rate {}\n}}\n\n",
        release_rate(tracks).0
    ));
    out.push_str("master \"main\" target=-14 ceiling=-1.0 { }\n\n");
    for (number, (title, stems)) in tracks.iter().enumerate() {
        out.push_str(&format!("track {} {} {{\n", number + 1, quoted(title)));
        out.push_str("    // isrc \"CC-XXX-YY-NNNNN\"\n");
        let mut used: BTreeMap<String, usize> = BTreeMap::new();
        for stem in stems {
            let base = name_of(&stem.path);
            let n = used.entry(base.clone()).or_default();
            *n += 1;
            let name = if *n == 1 { base } else { format!("{base}-{n}") };
            let info = &stem.info;
            let bits = info.bits.map(|b| format!("{b}-bit ")).unwrap_or_default();
            let channels = if info.channels == 1 { "mono" } else { "stereo" };
            let path = crate::template::portable(&stem.path);
            out.push_str(&format!(
                "    stem {} {}    // {} {} Hz {bits}{channels}\n",
                quoted(&name),
                quoted(&path),
                info.codec,
                info.sample_rate
            ));
        }
        out.push_str("}\n\n");
    }
    out.push_str("deliverable \"wav\" {\n    master \"main\"\n    format \"wav\" bits=24\n}\n");
    out
}
