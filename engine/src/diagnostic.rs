//! Errors in project files, pointing at the text that caused them.

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceSpan};

/// A project file's text, kept so every error can show the offending line.
#[derive(Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<NamedSource<String>>,
}

impl SourceFile {
    pub fn new(name: String, text: String) -> Self {
        SourceFile {
            text: Arc::new(NamedSource::new(name.clone(), text)),
            name,
        }
    }
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceFile({})", self.name)
    }
}

/// Where something was written: a file and a byte range in it.
#[derive(Clone, Debug)]
pub struct Span {
    pub file: SourceFile,
    pub range: SourceSpan,
}

impl Span {
    /// 1-based line and column of the start, for messages outside miette.
    pub fn line_col(&self) -> (usize, usize) {
        let text = self.file.text.inner();
        let offset = self.range.offset().min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        (line, col)
    }
}

/// What kind of mistake a diagnostic reports: a stable name printed with
/// it (`bounce::unknown-property`), which scripts and tests match instead
/// of the English text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The file is not KDL, or not the KDL version bounce reads.
    Syntax,
    /// A node bounce does not know, or one in a place it does not belong.
    UnknownNode,
    /// A property the node does not take.
    UnknownProperty,
    /// A word among fixed choices that is none of them.
    UnknownValue,
    /// More arguments than the node takes, or a block it does not take.
    UnexpectedArgument,
    /// A value the node needs and does not have.
    MissingValue,
    /// A value of the wrong type (a string for a number).
    WrongType,
    /// A number outside its range.
    OutOfRange,
    /// A name, node or file given twice where once is the rule.
    Duplicate,
    /// A file the project names that is not there, or not a regular file.
    MissingFile,
    /// An audio file bounce cannot read, or that is damaged.
    BadAudio,
    /// Cover art that is not a usable image.
    BadImage,
    /// An ISRC, UPC or EAN that is not one.
    BadIdentifier,
    /// A path template that cannot make a file name.
    BadTemplate,
    /// A signal path that cannot be built: a bus in a loop, a track with
    /// nothing in it, a send to nowhere.
    BadRouting,
    /// A deliverable that cannot be made as asked (a format's limits, a
    /// standard's rules, paths that collide).
    BadDeliverable,
    /// Anything else that makes the project invalid.
    Invalid,
}

impl Code {
    /// Every code, in the order the reference lists them.
    pub const ALL: [Code; 17] = [
        Code::Syntax,
        Code::UnknownNode,
        Code::UnknownProperty,
        Code::UnknownValue,
        Code::UnexpectedArgument,
        Code::MissingValue,
        Code::WrongType,
        Code::OutOfRange,
        Code::Duplicate,
        Code::MissingFile,
        Code::BadAudio,
        Code::BadImage,
        Code::BadIdentifier,
        Code::BadTemplate,
        Code::BadRouting,
        Code::BadDeliverable,
        Code::Invalid,
    ];

    /// The code as printed: `bounce::` and the kind in kebab case.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "bounce::syntax",
            Code::UnknownNode => "bounce::unknown-node",
            Code::UnknownProperty => "bounce::unknown-property",
            Code::UnknownValue => "bounce::unknown-value",
            Code::UnexpectedArgument => "bounce::unexpected-argument",
            Code::MissingValue => "bounce::missing-value",
            Code::WrongType => "bounce::wrong-type",
            Code::OutOfRange => "bounce::out-of-range",
            Code::Duplicate => "bounce::duplicate",
            Code::MissingFile => "bounce::missing-file",
            Code::BadAudio => "bounce::bad-audio",
            Code::BadImage => "bounce::bad-image",
            Code::BadIdentifier => "bounce::bad-identifier",
            Code::BadTemplate => "bounce::bad-template",
            Code::BadRouting => "bounce::bad-routing",
            Code::BadDeliverable => "bounce::bad-deliverable",
            Code::Invalid => "bounce::invalid",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mistake in a project file.
#[derive(Debug, Clone)]
pub struct ProjectDiagnostic {
    pub code: Code,
    pub message: String,
    pub span: Option<Span>,
    pub label: String,
    pub help: Option<String>,
}

impl ProjectDiagnostic {
    pub fn new(span: &Span, message: impl Into<String>) -> Self {
        ProjectDiagnostic {
            code: Code::Invalid,
            message: message.into(),
            span: Some(span.clone()),
            label: "here".into(),
            help: None,
        }
    }

    /// An error that is about no particular place in a file.
    pub fn global(message: impl Into<String>) -> Self {
        ProjectDiagnostic {
            code: Code::Invalid,
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
        }
    }

    pub fn code(mut self, code: Code) -> Self {
        self.code = code;
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for ProjectDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProjectDiagnostic {}

impl miette::Diagnostic for ProjectDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.span
            .as_ref()
            .map(|s| s.file.text.as_ref() as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span.as_ref()?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            span.range,
        ))))
    }
}

/// Every mistake found in a project, reported together.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} in the project", crate::words::count(.0.len(), "error"))]
pub struct ProjectErrors(pub Vec<ProjectDiagnostic>);

impl miette::Diagnostic for ProjectErrors {
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.0.iter().map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}
