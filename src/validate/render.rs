//! Renderings of diagnostics: human (rustc-style), JSON, GitHub annotations, SARIF.

use crate::source::SourceMap;
use crate::validate::Diagnostic;
use std::fmt::Write;

/// Where a diagnostic points, as a person reads it.
pub fn location(sources: &SourceMap, d: &Diagnostic) -> (String, usize, usize) {
    match d.span {
        Some(span) => {
            let file = sources.get(span.file);
            let (line, col) = file.line_col(span.start as usize);
            (file.path.display().to_string(), line, col)
        }
        None => (
            d.path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            0,
            0,
        ),
    }
}

/// Plain human-readable rendering.
pub fn human(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let (path, line, col) = location(sources, d);
        let _ = writeln!(out, "{}[{}]: {}", d.severity.as_str(), d.code, d.message);
        let _ = writeln!(out, "  --> {path}:{line}:{col}");
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "  = help: {h}");
        }
        out.push('\n');
    }
    out
}
