//! Renderings of diagnostics: human (rustc-style), JSON, GitHub annotations, SARIF, one
//! file each; what they share (where a diagnostic points, the summary counts, the codes'
//! reference text) is here.
//!
//! Every rendering reads the same [`Diagnostic`] values; only the shape differs. Positions
//! are byte offsets inside; lines are 1-based and columns are 1-based counts of characters
//! (Unicode scalar values), so a column never depends on how wide a Chinese character is.
//! End positions are exclusive: they name the character just after the span.

mod github;
mod human;
mod json;
mod sarif;

pub use github::github;
pub use human::{human, human_with};
pub use json::{JSON_VERSION, json};
pub use sarif::sarif;

use crate::diag::{Code, Diagnostic, Severity};
use crate::source::SourceMap;
use serde::Serialize;
use std::collections::BTreeSet;

/// Where a diagnostic points, as a person reads it: path, line and column (0 and 0 when
/// the diagnostic has no position).
pub fn location(sources: &SourceMap, d: &Diagnostic) -> (String, usize, usize) {
    match d.span {
        Some(span) => {
            let file = sources.get(span.file);
            let (line, col) = file.line_col(span.start as usize);
            (file.path.display().to_string(), line, col)
        }
        None => (path_of(sources, d), 0, 0),
    }
}

fn path_of(sources: &SourceMap, d: &Diagnostic) -> String {
    match (d.span, &d.path) {
        (Some(span), _) => sources.path(span.file).display().to_string(),
        (None, Some(p)) => p.display().to_string(),
        (None, None) => String::new(),
    }
}

/// The counts shown at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    /// Files read (a file refused before reading, such as one too large, is not counted).
    pub files: usize,
    /// Files or paths that have at least one diagnostic.
    pub files_with_problems: usize,
    /// Playbooks that decoded and were checked.
    pub playbooks: usize,
}

impl Summary {
    pub fn of(sources: &SourceMap, diags: &[Diagnostic], playbooks: usize) -> Summary {
        let paths: BTreeSet<String> = diags.iter().map(|d| path_of(sources, d)).collect();
        Summary {
            errors: diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count(),
            warnings: diags
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .count(),
            files: sources.files().count(),
            files_with_problems: paths.len(),
            playbooks,
        }
    }
}

/// The diagnostics reference, compiled in so `explain` and SARIF rules need no files.
const REFERENCE: &str = include_str!("../../../docs/diagnostics.md");

/// The entry of docs/diagnostics.md for a code: from its `### \`code\`` heading to the
/// next heading of the same or a higher level.
pub fn explain(code: Code) -> Option<&'static str> {
    let heading = format!("### `{}`", code.as_str());
    let start = REFERENCE
        .match_indices(&heading)
        .map(|(i, _)| i)
        .find(|&i| {
            (i == 0 || REFERENCE[..i].ends_with('\n'))
                && REFERENCE[i + heading.len()..].starts_with([' ', '\n'])
        })?;
    let rest = &REFERENCE[start..];
    let end = rest[1..]
        .match_indices("\n#")
        .map(|(i, _)| i + 2)
        .find(|&i| rest[i..].starts_with("## ") || rest[i..].starts_with("### "))
        .unwrap_or(rest.len());
    Some(rest[..end].trim_end())
}

/// The first paragraph of a code's entry: one line that says what it means.
pub fn summary_of(code: Code) -> Option<String> {
    let entry = explain(code)?;
    let paragraph = entry
        .split("\n\n")
        .skip(1)
        .map(str::trim)
        .find(|p| !p.is_empty())?;
    Some(paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// One diagnostic at `start..end` of a one-file source map, for the renderings' tests.
#[cfg(test)]
fn one(text: &str, start: usize, end: usize) -> (SourceMap, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let fid = sources.add("pb.yaml", text);
    let span = crate::source::Span::new(fid, start, end);
    let d =
        Diagnostic::new(Code::UnknownTemplate, span, "bad").with_hint("did you mean `welcome`?");
    (sources, vec![d])
}
