//! The `release` node: the release's metadata, rate, cover and output.

use super::*;

impl Reader {
    pub(super) fn read_release(&mut self, node: NodeView) {
        node.check_shape(&mut self.diags, &[], 1, true);
        if let Some((_, first)) = &self.release {
            let (line, _) = first.line_col();
            let file = first.file.name.clone();
            self.error(Code::Duplicate, &node.name_span(), "a second `release`")
                .help = Some(format!(
                "a project has one release; the first is at {file}:{line}"
            ));
            return;
        }
        let mut release = Release {
            title: node
                .string_arg(&mut self.diags, 0, "a title")
                .unwrap_or_default(),
            sample_rate: 48000,
            output: node.dir.join("out"),
            version: String::new(),
            ..Release::default()
        };
        let mut version = None;
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for child in node.children() {
            let name = child.name();
            if !RELEASE_FIELDS.contains(&name) {
                self.unknown_node(child, name, RELEASE_FIELDS, "in `release`");
                continue;
            }
            // A field written twice would silently take the last.
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                let (line, _) = first.line_col();
                let help = format!("the first `{name}` is at line {line}; keep one");
                self.error(
                    Code::Duplicate,
                    &child.name_span(),
                    format!("a second `{name}` in `release`"),
                )
                .help = Some(help);
                continue;
            }
            seen.push((name, child.name_span()));
            let props: &[&str] = if name == "output" { &["outside"] } else { &[] };
            child.check_shape(&mut self.diags, props, 1, false);
            read_release_field(&mut self.diags, &mut release, &mut version, &child);
        }
        // LANGUAGE.md: outputs go to `out/1.0.0/` unless `version` says.
        release.version = version.unwrap_or_else(|| DEFAULT_VERSION.into());
        self.release = Some((release, node.name_span()));
    }
}

/// One field of `release`, checked, into `release` (and `version`).
fn read_release_field(
    diags: &mut Diagnostics,
    release: &mut Release,
    version: &mut Option<String>,
    child: &NodeView,
) {
    match child.name() {
        "year" => {
            release.year = child
                .number_arg(diags, 0, "a year", Range::integer(1000.0, 9999.0))
                .map(|y| y as i64)
        }
        "sample-rate" => {
            if let Some(rate) = read_sample_rate(diags, child) {
                release.sample_rate = rate;
            }
        }
        "explicit" => match child.args().first().map(|a| a.value()) {
            Some(kdl::KdlValue::Bool(b)) => release.explicit = Some(*b),
            _ => diags.push(
                ProjectDiagnostic::new(&child.name_span(), "explicit takes #true or #false")
                    .code(Code::Invalid),
            ),
        },
        name => {
            let Some(value) = child.string_arg(diags, 0, "a value") else {
                return;
            };
            let span = child.span_of(child.args()[0].span());
            match name {
                "artist" => release.artist = Some(value),
                "version" => {
                    if let Err(why) = check_version(&value) {
                        diags.push(
                            ProjectDiagnostic::new(&span, format!("invalid version \"{value}\""))
                                .code(Code::Invalid)
                                .help(why),
                        );
                    }
                    *version = Some(value);
                }
                "upc" => {
                    if let Err(why) = check_upc(&value) {
                        diags.push(
                            ProjectDiagnostic::new(&span, format!("invalid UPC/EAN \"{value}\""))
                                .code(Code::BadIdentifier)
                                .label("invalid barcode")
                                .help(why),
                        );
                    }
                    release.upc = Some(value);
                }
                "label" => release.label = Some(value),
                "genre" => release.genre = Some(value),
                "copyright" => release.copyright = Some(value),
                "composer" => release.composer = Some(value),
                "description" => release.description = Some(value),
                "language" => release.language = Some(value),
                "category" => release.category = Some(value),
                "cover" => read_cover(diags, release, child, &value, &span),
                "output" => read_output(diags, release, child, &value, &span),
                _ => unreachable!("checked against RELEASE_FIELDS"),
            }
        }
    }
}

/// `sample-rate`: one of the standard rates.
fn read_sample_rate(diags: &mut Diagnostics, child: &NodeView) -> Option<u32> {
    let rate = child.number_arg(diags, 0, "a rate in Hz", Range::integer(1.0, 768000.0))? as u32;
    if SAMPLE_RATES.contains(&rate) {
        return Some(rate);
    }
    let span = child.span_of(child.args()[0].span());
    diags.push(
        ProjectDiagnostic::new(&span, format!("{rate} Hz is not a standard sample rate"))
            .code(Code::OutOfRange)
            .label("unsupported rate")
            .help("use 44100, 48000, 88200, 96000, 176400 or 192000"),
    );
    None
}

/// `cover`: a regular file bounce can read as an image, kept by its path
/// and the hash of its picture.
fn read_cover(
    diags: &mut Diagnostics,
    release: &mut Release,
    child: &NodeView,
    value: &str,
    span: &Span,
) {
    let path = child.dir.join(value);
    if let Some(what) = bounce_nodes::not_a_regular_file(&path) {
        let message = match what.as_str() {
            "not found" => format!("cover image not found: {}", display_name(&path)),
            _ => format!("cover image {}: {what}", display_name(&path)),
        };
        diags.push(
            ProjectDiagnostic::new(span, message)
                .code(Code::BadImage)
                .label("not an image"),
        );
    } else {
        match bounce_nodes::Cover::read(&path) {
            Ok(cover) => {
                release.cover_hash = Some(blake3::hash(&cover.data).to_hex().to_string());
            }
            Err(why) => diags.push(
                ProjectDiagnostic::new(
                    span,
                    format!("cover image {} cannot be used: {why}", display_name(&path)),
                )
                .code(Code::BadImage)
                .label("bad cover"),
            ),
        }
    }
    release.cover = Some(path);
}

/// `output`: a folder inside the project unless `outside=#true` says.
fn read_output(
    diags: &mut Diagnostics,
    release: &mut Release,
    child: &NodeView,
    value: &str,
    span: &Span,
) {
    let outside = child.bool_prop(diags, "outside", false);
    if let Err(why) = check_output(value, outside) {
        diags.push(
            ProjectDiagnostic::new(span, format!("output folder \"{value}\" {why}"))
                .code(Code::Invalid)
                .label("outside the project")
                .help(format!(
                    "if that is meant, write `output \"{value}\" outside=#true`"
                )),
        );
    }
    let output = child.dir.join(value);
    if fs_is_not_a_folder(&output) {
        diags.push(
            ProjectDiagnostic::new(
                span,
                format!("output folder \"{value}\" is a file, not a folder"),
            )
            .code(Code::Invalid)
            .label("not a folder")
            .help("name a folder (it is made if it does not exist)"),
        );
    }
    release.output = output;
}

/// The version of a release that names none.
pub const DEFAULT_VERSION: &str = "1.0.0";

/// Whether something other than a folder (a file, a device) is at `path`.
fn fs_is_not_a_folder(path: &std::path::Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_dir())
}

/// An output folder outside the project's folder (absolute, or up
/// through `..`) is written only when the project says so; the root of a
/// file system never.
pub(super) fn check_output(value: &str, outside: bool) -> Result<(), String> {
    let path = std::path::Path::new(value);
    let leaves = path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if path.parent().is_none() && path.has_root() {
        return Err("is the root of the file system".into());
    }
    if leaves && !outside {
        return Err("leaves the project's folder".into());
    }
    Ok(())
}

pub(super) fn check_version(version: &str) -> Result<(), String> {
    if version.is_empty() {
        return Err("a version names the output folder and cannot be empty".into());
    }
    if version.chars().any(char::is_control) {
        return Err("a version names a folder: it holds no control characters".into());
    }
    if version == "." || version == ".." || version.contains(['/', '\\']) {
        return Err("a version names one folder: no slashes, no `..`".into());
    }
    if version.len() > crate::template::MAX_NAME_BYTES {
        return Err(format!(
            "a version names a folder, whose name file systems cap at {} bytes (this one has {})",
            crate::template::MAX_NAME_BYTES,
            version.len()
        ));
    }
    if let Some(c) = version
        .chars()
        .find(|c| crate::template::is_bidi_control(*c))
    {
        return Err(format!(
            "a version names a folder: U+{:04X} would reorder how its name reads",
            c as u32
        ));
    }
    Ok(())
}
