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

/// The project file's text, and the stems it names (per track).
pub struct Started {
    pub text: String,
    pub tracks: Vec<(String, Vec<FoundStem>)>,
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
    let file = dir.join("bounce.kdl");
    if file.exists() {
        return Err(InitError::Exists(file));
    }
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
                    path: path.strip_prefix(dir).unwrap_or(&path).to_path_buf(),
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
    let text = project_text(dir, &tracks);
    Ok(Started { text, tracks })
}

/// The most common rate among the stems (the higher on a tie).
fn release_rate(tracks: &[(String, Vec<FoundStem>)]) -> u32 {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for stem in tracks.iter().flat_map(|(_, s)| s) {
        *counts.entry(stem.info.sample_rate).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(rate, n)| (*n, *rate))
        .map(|(rate, _)| rate)
        .unwrap_or(48000)
}

fn project_text(dir: &Path, tracks: &[(String, Vec<FoundStem>)]) -> String {
    let title = std::path::absolute(dir)
        .ok()
        .map(|d| name_of(&d))
        .unwrap_or_else(|| "Untitled".into());
    let mut out = String::new();
    out.push_str("// Written by `bounce init`: edit freely.\n");
    out.push_str(&format!("release {} {{\n", quoted(&title)));
    out.push_str("    version \"1.0.0\"\n");
    out.push_str(&format!("    sample-rate {}\n}}\n\n", release_rate(tracks)));
    out.push_str("master \"main\" target=-14 ceiling=-1.0 { }\n\n");
    for (number, (title, stems)) in tracks.iter().enumerate() {
        out.push_str(&format!("track {} {} {{\n", number + 1, quoted(title)));
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
