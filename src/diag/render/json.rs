//! The JSON document: our own shape, documented in docs/diagnostics.md.

use super::{Summary, path_of};
use crate::diag::{Code, Diagnostic, Severity};
use crate::source::{SourceMap, Span};
use serde::Serialize;

/// Version of the JSON document's shape; bumped only when a field changes meaning or goes away.
pub const JSON_VERSION: u32 = 1;

/// A position in the JSON document. Absent parts are `null`.
#[derive(Debug, Serialize)]
struct Position {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    byte_start: Option<usize>,
    byte_end: Option<usize>,
}

impl Position {
    fn of(sources: &SourceMap, span: Option<Span>, path: String) -> Position {
        match span {
            Some(span) => {
                let file = sources.get(span.file);
                let (line, column) = file.line_col(span.start as usize);
                let (end_line, end_column) = file.line_col(span.end as usize);
                Position {
                    file: file.path.display().to_string(),
                    line: Some(line),
                    column: Some(column),
                    end_line: Some(end_line),
                    end_column: Some(end_column),
                    byte_start: Some(span.start as usize),
                    byte_end: Some(span.end as usize),
                }
            }
            None => Position {
                file: path,
                line: None,
                column: None,
                end_line: None,
                end_column: None,
                byte_start: None,
                byte_end: None,
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct JsonLabel {
    #[serde(flatten)]
    at: Position,
    message: String,
}

#[derive(Debug, Serialize)]
struct JsonDiagnostic<'a> {
    code: Code,
    severity: Severity,
    message: &'a str,
    #[serde(flatten)]
    at: Position,
    hint: Option<&'a str>,
    labels: Vec<JsonLabel>,
}

#[derive(Debug, Serialize)]
struct JsonSummary {
    errors: usize,
    warnings: usize,
    files: usize,
    playbooks: usize,
}

#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    version: u32,
    diagnostics: Vec<JsonDiagnostic<'a>>,
    summary: JsonSummary,
}

/// One JSON document (pretty-printed, ending in a newline); its shape is documented in
/// docs/diagnostics.md.
pub fn json(sources: &SourceMap, diags: &[Diagnostic], summary: &Summary) -> String {
    let report = JsonReport {
        version: JSON_VERSION,
        diagnostics: diags
            .iter()
            .map(|d| JsonDiagnostic {
                code: d.code,
                severity: d.severity,
                message: &d.message,
                at: Position::of(sources, d.span, path_of(sources, d)),
                hint: d.hint.as_deref(),
                labels: d
                    .labels
                    .iter()
                    .map(|l| JsonLabel {
                        at: Position::of(sources, Some(l.span), String::new()),
                        message: l.message.clone(),
                    })
                    .collect(),
            })
            .collect(),
        summary: JsonSummary {
            errors: summary.errors,
            warnings: summary.warnings,
            files: summary.files,
            playbooks: summary.playbooks,
        },
    };
    let mut s = serde_json::to_string_pretty(&report).expect("plain data serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::render::one;

    #[test]
    fn json_positions_count_characters_and_bytes() {
        let text = "name: 减脂\nx: y\n";
        let start = text.find('减').unwrap();
        let (sources, diags) = one(text, start, start + 6);
        let s = Summary::of(&sources, &diags, 0);
        let v: serde_json::Value = serde_json::from_str(&json(&sources, &diags, &s)).unwrap();
        let d = &v["diagnostics"][0];
        assert_eq!(d["line"], 1);
        assert_eq!(d["column"], 7);
        assert_eq!(d["end_column"], 9);
        assert_eq!(d["byte_start"], 6);
        assert_eq!(d["byte_end"], 12);
        assert_eq!(d["code"], "unknown-template");
        assert_eq!(v["summary"]["errors"], 1);
    }
}
