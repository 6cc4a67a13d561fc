//! Typed access to KDL nodes that records every mistake as a diagnostic
//! instead of stopping at the first.

use std::path::Path;

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use crate::diagnostic::Code;
use crate::diagnostic::ProjectDiagnostic;
use crate::diagnostic::SourceFile;
use crate::diagnostic::Span;
use crate::suggest::nearest;

/// Collects diagnostics while a project is read.
#[derive(Default)]
pub struct Diagnostics {
    pub list: Vec<ProjectDiagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: ProjectDiagnostic) {
        self.list.push(diagnostic);
    }
}

/// A node of a project file, with the file it came from.
#[derive(Clone, Copy)]
pub struct NodeView<'a> {
    pub node: &'a KdlNode,
    pub file: &'a SourceFile,
    /// The folder relative paths in this file are relative to.
    pub dir: &'a Path,
}

fn describe(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "null",
    }
}

impl<'a> NodeView<'a> {
    pub fn name(&self) -> &'a str {
        self.node.name().value()
    }

    pub fn span_of(&self, range: SourceSpan) -> Span {
        Span {
            file: self.file.clone(),
            range,
        }
    }

    /// The node's name, where errors about the node as a whole point.
    pub fn name_span(&self) -> Span {
        self.span_of(self.node.name().span())
    }

    pub fn children(&self) -> impl Iterator<Item = NodeView<'a>> + 'a {
        let (file, dir) = (self.file, self.dir);
        self.node
            .children()
            .into_iter()
            .flat_map(|doc| doc.nodes().iter())
            .map(move |node| NodeView { node, file, dir })
    }

    pub fn args(&self) -> Vec<&'a KdlEntry> {
        self.node
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .collect()
    }

    pub fn prop(&self, name: &str) -> Option<&'a KdlEntry> {
        // The last of repeated properties wins, as the KDL spec says.
        self.node
            .entries()
            .iter()
            .rev()
            .find(|e| e.name().map(|n| n.value()) == Some(name))
    }

    /// Reports every property not in `allowed`, every positional argument
    /// past `max_args`, and children when `children_allowed` is false.
    pub fn check_shape(
        &self,
        diags: &mut Diagnostics,
        allowed: &[&str],
        max_args: usize,
        children_allowed: bool,
    ) {
        for entry in self.node.entries() {
            if let Some(name) = entry.name() {
                if !allowed.contains(&name.value()) {
                    let mut d = ProjectDiagnostic::new(
                        &self.span_of(name.span()),
                        format!("unknown property `{}` on `{}`", name.value(), self.name()),
                    )
                    .label("unknown property")
                    .code(Code::UnknownProperty);
                    d = match nearest(name.value(), allowed) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None if allowed.is_empty() => {
                            d.help(format!("`{}` takes no properties", self.name()))
                        }
                        None => d.help(format!("`{}` takes: {}", self.name(), allowed.join(", "))),
                    };
                    diags.push(d);
                }
            }
        }
        if let Some(extra) = self.args().get(max_args) {
            diags.push(
                ProjectDiagnostic::new(
                    &self.span_of(extra.span()),
                    format!("too many arguments to `{}`", self.name()),
                )
                .label("unexpected argument")
                .code(Code::UnexpectedArgument)
                .help(format!(
                    "`{}` takes {}",
                    self.name(),
                    match max_args {
                        0 => "no arguments".to_string(),
                        1 => "one argument".to_string(),
                        n => format!("at most {n} arguments"),
                    }
                )),
            );
        }
        if !children_allowed {
            if let Some(children) = self.node.children() {
                diags.push(
                    ProjectDiagnostic::new(
                        &self.span_of(children.span()),
                        format!("`{}` takes no block", self.name()),
                    )
                    .label("unexpected block")
                    .code(Code::UnexpectedArgument),
                );
            }
        }
    }

    fn missing(&self, diags: &mut Diagnostics, what: &str) {
        diags.push(
            ProjectDiagnostic::new(&self.name_span(), format!("`{}` needs {what}", self.name()))
                .label("incomplete")
                .code(Code::MissingValue),
        );
    }

    fn wrong_type(&self, diags: &mut Diagnostics, entry: &KdlEntry, expected: &str) {
        diags.push(
            ProjectDiagnostic::new(
                &self.span_of(entry.span()),
                format!("expected {expected}, found {}", describe(entry.value())),
            )
            .label("wrong type")
            .code(Code::WrongType),
        );
    }

    /// The string argument at `index`, reporting its absence as needing `what`.
    pub fn string_arg(&self, diags: &mut Diagnostics, index: usize, what: &str) -> Option<String> {
        let Some(entry) = self.args().get(index).copied() else {
            self.missing(diags, what);
            return None;
        };
        match entry.value() {
            KdlValue::String(s) => Some(s.clone()),
            _ => {
                self.wrong_type(diags, entry, "a string");
                None
            }
        }
    }

    /// Every argument from `from` on, as strings.
    pub fn string_args(&self, diags: &mut Diagnostics, from: usize) -> Vec<(String, Span)> {
        let mut out = Vec::new();
        for entry in self.args().into_iter().skip(from) {
            match entry.value() {
                KdlValue::String(s) => out.push((s.clone(), self.span_of(entry.span()))),
                _ => self.wrong_type(diags, entry, "a string"),
            }
        }
        out
    }

    /// The numeric argument at `index`, checked against `range`.
    pub fn number_arg(
        &self,
        diags: &mut Diagnostics,
        index: usize,
        what: &str,
        range: Range,
    ) -> Option<f64> {
        let Some(entry) = self.args().get(index).copied() else {
            self.missing(diags, what);
            return None;
        };
        self.number_of(diags, entry, range)
    }

    /// Every argument from `from` on, as numbers in `range`.
    pub fn number_args(
        &self,
        diags: &mut Diagnostics,
        from: usize,
        range: Range,
    ) -> Vec<(f64, Span)> {
        self.args()
            .into_iter()
            .skip(from)
            .filter_map(|e| {
                self.number_of(diags, e, range)
                    .map(|v| (v, self.span_of(e.span())))
            })
            .collect()
    }

    fn number_of(&self, diags: &mut Diagnostics, entry: &KdlEntry, range: Range) -> Option<f64> {
        let value = match entry.value() {
            KdlValue::Integer(i) => *i as f64,
            KdlValue::Float(f) => *f,
            _ => {
                self.wrong_type(diags, entry, "a number");
                return None;
            }
        };
        in_range(
            diags,
            &self.span_of(entry.span()),
            &value.to_string(),
            value,
            range,
        )
    }

    /// The time property `name` in seconds: a number, or a clock time
    /// `m:ss.s` or `h:mm:ss.s` as a string, as an editor's timeline shows it.
    pub fn optional_time_prop(
        &self,
        diags: &mut Diagnostics,
        name: &str,
        range: Range,
    ) -> Option<f64> {
        let entry = self.prop(name)?;
        let KdlValue::String(text) = entry.value() else {
            return self.number_of(diags, entry, range);
        };
        let span = self.span_of(entry.span());
        let Some(seconds) = clock_seconds(text) else {
            diags.push(
                ProjectDiagnostic::new(&span, format!("\"{text}\" is not a time"))
                    .label("not a time")
                    .code(Code::Invalid)
                    .help("write seconds (2.5) or a clock time (\"1:02.5\", \"1:02:03.5\")"),
            );
            return None;
        };
        in_range(diags, &span, text, seconds, range)
    }

    /// The numeric property `name`, or `default` when absent.
    pub fn number_prop(
        &self,
        diags: &mut Diagnostics,
        name: &str,
        default: f64,
        range: Range,
    ) -> f64 {
        self.optional_number_prop(diags, name, range)
            .unwrap_or(default)
    }

    pub fn optional_number_prop(
        &self,
        diags: &mut Diagnostics,
        name: &str,
        range: Range,
    ) -> Option<f64> {
        let entry = self.prop(name)?;
        self.number_of(diags, entry, range)
    }

    pub fn string_prop(&self, diags: &mut Diagnostics, name: &str) -> Option<(String, Span)> {
        let entry = self.prop(name)?;
        match entry.value() {
            KdlValue::String(s) => Some((s.clone(), self.span_of(entry.span()))),
            _ => {
                self.wrong_type(diags, entry, "a string");
                None
            }
        }
    }

    pub fn bool_prop(&self, diags: &mut Diagnostics, name: &str, default: bool) -> bool {
        let Some(entry) = self.prop(name) else {
            return default;
        };
        match entry.value() {
            KdlValue::Bool(b) => *b,
            _ => {
                self.wrong_type(diags, entry, "#true or #false");
                default
            }
        }
    }

    /// A string property that must be one of `choices`.
    pub fn choice_prop(
        &self,
        diags: &mut Diagnostics,
        name: &str,
        choices: &[&'static str],
    ) -> Option<&'static str> {
        let (value, span) = self.string_prop(diags, name)?;
        choose(diags, &value, &span, choices, name)
    }
}

/// `value` if it is one of `choices`; otherwise a diagnostic with a hint.
pub fn choose(
    diags: &mut Diagnostics,
    value: &str,
    span: &Span,
    choices: &[&'static str],
    what: &str,
) -> Option<&'static str> {
    if let Some(found) = choices.iter().find(|c| **c == value) {
        return Some(found);
    }
    let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
    let mut d = ProjectDiagnostic::new(span, format!("unknown {what} \"{value}\""))
        .label(format!("not a {what}"))
        .code(Code::UnknownValue);
    d = match nearest(value, choices) {
        Some(s) => d.help(format!(
            "did you mean \"{s}\"? ({what} is one of {})",
            quoted.join(", ")
        )),
        None => d.help(format!("{what} is one of {}", quoted.join(", "))),
    };
    diags.push(d);
    None
}

/// The valid values of a number.
/// The longest time a project may name, seconds (24 hours).
pub const MAX_SECONDS: f64 = 86_400.0;

/// The shortest length a track or tone takes, in seconds.
pub const MIN_LENGTH_SECONDS: f64 = 0.001;

#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    /// Whether `min` itself is excluded.
    pub min_exclusive: bool,
    pub integer: bool,
    pub unit: &'static str,
}

impl Range {
    pub const fn between(min: f64, max: f64, unit: &'static str) -> Self {
        Range {
            min,
            max,
            min_exclusive: false,
            integer: false,
            unit,
        }
    }
    pub const fn positive(unit: &'static str) -> Self {
        Range {
            min: 0.0,
            max: f64::MAX,
            min_exclusive: true,
            integer: false,
            unit,
        }
    }
    /// A time in a release: from 0 to a day. Longer is a slip of the
    /// keyboard that would fill the disk with silence.
    pub const fn duration() -> Self {
        Range::between(0.0, MAX_SECONDS, "s")
    }
    /// A length in a release: at least a millisecond (`1e-300` would
    /// round to an empty file), at most a day.
    pub const fn length() -> Self {
        Range {
            min: MIN_LENGTH_SECONDS,
            ..Range::duration()
        }
    }
    pub const fn integer(min: f64, max: f64) -> Self {
        Range {
            min,
            max,
            min_exclusive: false,
            integer: true,
            unit: "",
        }
    }

    fn check(&self, value: f64) -> Result<(), String> {
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", self.unit)
        };
        if !value.is_finite() {
            return Err("must be a finite number".into());
        }
        if self.integer && value.fract() != 0.0 {
            return Err("must be a whole number".into());
        }
        let too_low = value < self.min || (self.min_exclusive && value == self.min);
        if too_low || value > self.max {
            return Err(match (self.min_exclusive, self.max == f64::MAX) {
                (true, true) => format!("must be greater than {}{unit}", self.min),
                (false, true) => format!("must be at least {}{unit}", self.min),
                (true, false) => {
                    format!("must be above {} and at most {}{unit}", self.min, self.max)
                }
                (false, false) => format!("must be between {} and {}{unit}", self.min, self.max),
            });
        }
        Ok(())
    }
}

/// `value` (written `shown` at `span`) if `range` takes it, else `None`
/// and an out-of-range error there.
fn in_range(
    diags: &mut Diagnostics,
    span: &Span,
    shown: &str,
    value: f64,
    range: Range,
) -> Option<f64> {
    match range.check(value) {
        Ok(()) => Some(value),
        Err(why) => {
            diags.push(
                ProjectDiagnostic::new(span, format!("{shown} is out of range"))
                    .label("out of range")
                    .code(Code::OutOfRange)
                    .help(why),
            );
            None
        }
    }
}

/// `m:ss.s` or `h:mm:ss.s` in seconds: minutes and seconds under 60 after
/// the first field, digits only.
pub fn clock_seconds(text: &str) -> Option<f64> {
    let fields: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&fields.len()) {
        return None;
    }
    let digits = |f: &str| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit() || c == '.');
    if !fields.iter().all(|f| digits(f)) {
        return None;
    }
    let seconds: f64 = fields.last()?.parse().ok()?;
    let mut total = 0.0;
    for (i, field) in fields[..fields.len() - 1].iter().enumerate() {
        let value: u64 = field.parse().ok()?;
        if i > 0 && value >= 60 {
            return None;
        }
        total = total * 60.0 + value as f64;
    }
    (seconds < 60.0).then_some(total * 60.0 + seconds)
}

#[cfg(test)]
mod tests {
    use super::clock_seconds;

    #[test]
    fn clock_times_read_as_seconds() {
        assert_eq!(clock_seconds("0:02.5"), Some(2.5));
        assert_eq!(clock_seconds("12:34.5"), Some(754.5));
        assert_eq!(clock_seconds("1:02:03.5"), Some(3723.5));
        for bad in [
            "2.5", "1:60", "1:75:00", "a:00", ":30", "1:", "1:2:3:4", "-1:00",
        ] {
            assert_eq!(clock_seconds(bad), None, "{bad}");
        }
    }
}
