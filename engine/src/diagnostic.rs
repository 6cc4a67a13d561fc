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

/// One mistake in a project file.
#[derive(Debug, Clone)]
pub struct ProjectDiagnostic {
    pub message: String,
    pub span: Option<Span>,
    pub label: String,
    pub help: Option<String>,
}

impl ProjectDiagnostic {
    pub fn new(span: &Span, message: impl Into<String>) -> Self {
        ProjectDiagnostic {
            message: message.into(),
            span: Some(span.clone()),
            label: "here".into(),
            help: None,
        }
    }

    /// An error that is about no particular place in a file.
    pub fn global(message: impl Into<String>) -> Self {
        ProjectDiagnostic {
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
        }
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
        None
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
#[error("{} in the project", count(.0.len()))]
pub struct ProjectErrors(pub Vec<ProjectDiagnostic>);

fn count(n: usize) -> String {
    if n == 1 {
        "1 error".into()
    } else {
        format!("{n} errors")
    }
}

impl miette::Diagnostic for ProjectErrors {
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.0.iter().map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}
