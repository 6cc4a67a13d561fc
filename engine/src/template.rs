//! Output path templates: `{deliverable}/{track:02} - {title}.{ext}`.

use std::path::{Component, PathBuf};

pub(crate) const FIELDS: &[&str] = &[
    "release",
    "artist",
    "version",
    "deliverable",
    "track",
    "title",
    "isrc",
    "stem",
    "ext",
    "rev",
];

/// The values a template's fields take for one file.
#[derive(Debug, Clone, Default)]
pub struct TemplateValues {
    pub release: String,
    pub artist: String,
    pub version: String,
    pub deliverable: String,
    pub track: Option<u32>,
    pub title: String,
    pub isrc: String,
    pub stem: String,
    pub ext: String,
    /// The git revision (`git describe`), or `unversioned`.
    pub rev: String,
}

/// The widest zero-padded number a template may ask for.
const MAX_WIDTH: usize = 9;

enum Piece<'a> {
    Text(&'a str),
    Field { name: &'a str, width: Option<usize> },
}

fn parse(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        pieces.push(Piece::Text(&rest[..open]));
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| "a `{` is never closed".to_string())?
            + open;
        let inner = &rest[open + 1..close];
        let (name, width) = match inner.split_once(':') {
            Some((name, spec)) => {
                let width = spec
                    .strip_prefix('0')
                    .and_then(|w| w.parse::<usize>().ok())
                    .ok_or_else(|| format!("`{{{inner}}}`: a width is written `:02`"))?;
                // Track numbers have at most four digits.
                if width > MAX_WIDTH {
                    return Err(format!(
                        "`{{{inner}}}`: a width is at most {MAX_WIDTH} digits"
                    ));
                }
                (name, Some(width))
            }
            None => (inner, None),
        };
        if !FIELDS.contains(&name) {
            let hint = crate::suggest::nearest(name, FIELDS)
                .map(|s| format!(" (did you mean `{{{s}}}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown field `{{{name}}}`{hint}; fields: {}",
                FIELDS.join(", ")
            ));
        }
        pieces.push(Piece::Field { name, width });
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` has no `{`".into());
    }
    pieces.push(Piece::Text(rest));
    Ok(pieces)
}

/// Checks a template's syntax and field names.
pub fn check(template: &str) -> Result<(), String> {
    parse(template).map(|_| ())
}

/// Makes a value safe as (part of) one file name.
fn sanitise(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() || is_bidi_control(c) => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_end_matches('.');
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '.') {
        "_".into()
    } else {
        trimmed.to_string()
    }
}

/// Unicode's explicit direction controls (UAX #9): they make a name read
/// otherwise than it sorts, as `U+202E` hides a file's real extension.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The longest file name, in bytes, that common file systems take (ext4,
/// APFS, NTFS in UTF-16 units, which UTF-8 bytes never undercount).
pub const MAX_NAME_BYTES: usize = 255;

/// The longest path, in bytes, Linux's system calls take (`PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Names Windows keeps for devices, whatever the extension.
const DEVICE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A path component safe on every common file system: a device name gets
/// an underscore.
fn safe_component(name: &str) -> String {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    if DEVICE_NAMES.iter().any(|d| d.eq_ignore_ascii_case(stem)) {
        format!("_{name}")
    } else {
        name.to_string()
    }
}

/// A relative path as manifests and project files write it: its components
/// joined by `/` (a backslash inside a Unix file name stays a character).
pub fn portable(path: &std::path::Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Renders a template into a path relative to the output root; fails if
/// the result would leave it, names no file, or a name is too long.
pub fn render(template: &str, values: &TemplateValues) -> Result<PathBuf, String> {
    let mut out = String::new();
    for piece in parse(template)? {
        match piece {
            // A backslash in the template is a folder separator, as on
            // Windows: never a character of a file name.
            Piece::Text(text) => out.push_str(&text.replace('\\', "/")),
            Piece::Field { name, width } => {
                let value = match name {
                    "track" => {
                        let n = values.track.unwrap_or(0);
                        match width {
                            Some(w) => format!("{n:0w$}"),
                            None => n.to_string(),
                        }
                    }
                    "release" => values.release.clone(),
                    "artist" => values.artist.clone(),
                    "version" => values.version.clone(),
                    "deliverable" => values.deliverable.clone(),
                    "title" => values.title.clone(),
                    "isrc" => values.isrc.clone(),
                    "stem" => values.stem.clone(),
                    "rev" => values.rev.clone(),
                    _ => values.ext.clone(),
                };
                out.push_str(&sanitise(&value));
            }
        }
    }
    if out.chars().any(|c| c.is_control()) {
        return Err("the path holds a control character".into());
    }
    if out.ends_with('/') || out.ends_with('\\') {
        return Err(format!("the path \"{out}\" names a folder, not a file"));
    }
    let path = PathBuf::from(&out);
    if path.components().any(|c| matches!(c, Component::CurDir)) {
        return Err(format!(
            "the path \"{out}\" holds a `.` folder; name the file"
        ));
    }
    if let Some(long) = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .find(|name| name.len() > MAX_NAME_BYTES)
    {
        return Err(format!(
            "the file name \"{}…\" is {} bytes long; file systems take at most {MAX_NAME_BYTES} \
             (shorten the title or the template)",
            long.chars().take(40).collect::<String>(),
            long.len()
        ));
    }
    if out.len() >= MAX_PATH_BYTES {
        return Err(format!(
            "the path is {} bytes long; file systems take at most {} (shorten the template)",
            out.len(),
            MAX_PATH_BYTES - 1
        ));
    }
    let escapes = path.components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    });
    if escapes || out.is_empty() {
        return Err(format!("the path \"{out}\" leaves the output folder"));
    }
    Ok(path
        .components()
        .map(|c| safe_component(&c.as_os_str().to_string_lossy()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> TemplateValues {
        TemplateValues {
            deliverable: "streaming".into(),
            track: Some(3),
            title: "AC/DC: ../Live?".into(),
            ext: "wav".into(),
            ..Default::default()
        }
    }

    #[test]
    fn renders_the_default_with_safe_names() {
        let path = render(crate::reader::DEFAULT_PATH, &values()).unwrap();
        assert_eq!(path, PathBuf::from("streaming/03 - AC_DC_ .._Live_.wav"));
    }

    #[test]
    fn refuses_paths_that_leave_the_root() {
        assert!(render("../{title}.{ext}", &values()).is_err());
        assert!(render("/abs/{title}.{ext}", &values()).is_err());
        let mut v = values();
        v.title = "..".into();
        assert_eq!(render("{title}", &v).unwrap(), PathBuf::from("_"));
    }

    #[test]
    fn names_break_on_no_common_file_system() {
        let mut v = values();
        v.title = "evil\u{202E}vaw.exe".into();
        assert_eq!(
            render("{title}", &v).unwrap(),
            PathBuf::from("evil_vaw.exe")
        );
        v.title = "con".into();
        assert_eq!(
            render("x/{title}.{ext}", &v).unwrap(),
            PathBuf::from("x/_con.wav")
        );
        v.title = "x".repeat(260);
        assert!(render("{title}.{ext}", &v)
            .unwrap_err()
            .contains("264 bytes"));
        assert!(render(".", &v).is_err());
        assert!(render("{deliverable}/", &v).is_err());
        assert!(render("a\u{0}b", &v).is_err());
    }

    #[test]
    fn rejects_unknown_fields_with_a_hint() {
        let error = check("{titel}.{ext}").unwrap_err();
        assert!(error.contains("did you mean `{title}`"), "{error}");
        assert!(check("{track:2}").is_err());
        assert!(check("{track:070000}").unwrap_err().contains("at most 9"));
        assert!(check("{track").is_err());
    }
}
