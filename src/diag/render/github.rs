//! GitHub Actions workflow commands: annotations on the pull request's files.

use super::path_of;
use crate::diag::{Diagnostic, Severity};
use crate::source::SourceMap;
use std::fmt::Write;

/// Escapes the message part of a workflow command.
fn gh_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            // Other control characters could drive the log viewer's terminal emulation.
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes a property value of a workflow command (`file=...`, `title=...`).
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands, one line per diagnostic: they become annotations on
/// the pull request's files.
pub fn github(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = vec![format!("file={}", gh_property(&path_of(sources, d)))];
        if let Some(span) = d.span {
            let file = sources.get(span.file);
            let (line, col) = file.line_col(span.start as usize);
            let (end_line, end_col) = file.line_col(span.end as usize);
            props.push(format!("line={line}"));
            props.push(format!("endLine={end_line}"));
            // GitHub takes columns only for a span on one line; its end column is the last
            // character's own column.
            if end_line == line {
                props.push(format!("col={col}"));
                props.push(format!("endColumn={}", end_col.saturating_sub(1).max(col)));
            }
        }
        props.push(format!(
            "title={}",
            gh_property(&format!("drumbeat {}", d.code))
        ));
        let mut message = d.message.clone();
        if let Some(h) = &d.hint {
            message.push_str("\nhelp: ");
            message.push_str(h);
        }
        let _ = writeln!(out, "::{kind} {}::{}", props.join(","), gh_data(&message));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
    use crate::source::Span;

    #[test]
    fn github_escapes_properties_and_data() {
        let mut sources = SourceMap::new();
        let fid = sources.add("a,b:c%.yaml", "k: v\n");
        let d = Diagnostic::new(Code::InvalidValue, Span::new(fid, 3, 4), "50% off\r\nnow")
            .with_hint("a: b, c");
        let out = github(&sources, &[d]);
        assert_eq!(
            out,
            "::error file=a%2Cb%3Ac%25.yaml,line=1,endLine=1,col=4,endColumn=4,title=drumbeat invalid-value::50%25 off%0D%0Anow%0Ahelp: a: b, c\n"
        );
    }

    #[test]
    fn github_drops_columns_for_spans_over_several_lines() {
        let mut sources = SourceMap::new();
        let fid = sources.add("x.yaml", "a:\n  b: 1\n");
        let d = Diagnostic::new(Code::WrongType, Span::new(fid, 0, 9), "m");
        let out = github(&sources, &[d]);
        assert_eq!(
            out,
            "::error file=x.yaml,line=1,endLine=2,title=drumbeat wrong-type::m\n"
        );
    }
}
