//! SARIF 2.1.0, for code scanning tools.

use super::summary_of;
use crate::diag::{Code, Diagnostic, Severity};
use crate::source::{SourceMap, Span};
use std::fmt::Write;

/// A SARIF 2.1.0 log with one run; the rules are every code drumbeat knows.
pub fn sarif(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    use serde_json::{Value, json};
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "shortDescription": { "text": summary_of(*c).unwrap_or_else(|| c.as_str().to_string()) },
                "defaultConfiguration": { "level": level(c.severity()) },
            })
        })
        .collect();
    let location = |span: Span| {
        let file = sources.get(span.file);
        let (line, col) = file.line_col(span.start as usize);
        let (end_line, end_col) = file.line_col(span.end as usize);
        json!({
            "physicalLocation": {
                "artifactLocation": { "uri": uri(&file.path) },
                "region": {
                    "startLine": line,
                    "startColumn": col,
                    "endLine": end_line,
                    "endColumn": end_col,
                    "byteOffset": span.start,
                    "byteLength": span.end - span.start,
                }
            }
        })
    };
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let index = Code::ALL.iter().position(|c| *c == d.code);
            let mut text = d.message.clone();
            if let Some(h) = &d.hint {
                text.push_str("\nhelp: ");
                text.push_str(h);
            }
            let locations = match (d.span, &d.path) {
                (Some(span), _) => vec![location(span)],
                (None, Some(p)) => vec![json!({
                    "physicalLocation": { "artifactLocation": { "uri": uri(p) } }
                })],
                (None, None) => Vec::new(),
            };
            let related: Vec<Value> = d
                .labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let mut loc = location(l.span);
                    loc["id"] = json!(i);
                    loc["message"] = json!({ "text": l.message });
                    loc
                })
                .collect();
            let mut r = json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": index,
                "level": level(d.severity),
                "message": { "text": text },
                "locations": locations,
            });
            if !related.is_empty() {
                r["relatedLocations"] = json!(related);
            }
            r
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "drumbeat",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut s = serde_json::to_string_pretty(&log).expect("plain data serialises");
    s.push('\n');
    s
}

/// A relative URI reference for a path: forward slashes, with the characters URIs reserve
/// percent-encoded.
fn uri(path: &std::path::Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_escaped() {
        assert_eq!(
            uri(std::path::Path::new("a b/减.yaml")),
            "a%20b/%E5%87%8F.yaml"
        );
    }
}
