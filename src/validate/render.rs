//! Renderings of diagnostics: human (rustc-style), JSON, GitHub annotations, SARIF.
//!
//! Every rendering reads the same [`Diagnostic`] values; only the shape differs. Positions
//! are byte offsets inside; lines are 1-based and columns are 1-based counts of characters
//! (Unicode scalar values), so a column never depends on how wide a Chinese character is.
//! End positions are exclusive: they name the character just after the span.

use crate::source::{SourceFile, SourceMap, Span};
use crate::validate::{Code, Diagnostic, Severity};
use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Version of the JSON document's shape; bumped only when a field changes meaning or goes away.
pub const JSON_VERSION: u32 = 1;

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

    /// The last line of a human report, e.g. `error: 3 errors and 1 warning in 2 files`
    /// or `ok: 3 playbooks, no problems`.
    pub fn line(&self, deny_warnings: bool, styled: bool) -> String {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("1 {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        let (level, text) = if self.errors == 0 && self.warnings == 0 {
            (
                Level::NOTE.with_name("ok"),
                format!("{}, no problems", plural(self.playbooks, "playbook")),
            )
        } else {
            let mut counts = Vec::new();
            if self.errors > 0 {
                counts.push(plural(self.errors, "error"));
            }
            if self.warnings > 0 {
                counts.push(plural(self.warnings, "warning"));
            }
            let mut text = format!(
                "{} in {}",
                counts.join(" and "),
                plural(self.files_with_problems, "file")
            );
            let level = if self.errors > 0 {
                Level::ERROR
            } else if deny_warnings {
                text.push_str(" (warnings are denied)");
                Level::ERROR
            } else {
                Level::WARNING
            };
            (level, text)
        };
        renderer(styled).render(&[Group::with_title(level.primary_title(text))])
    }
}

fn renderer(styled: bool) -> Renderer {
    if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
}

/// Plain (uncoloured) human-readable rendering: one rustc-style block per diagnostic.
pub fn human(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    human_with(sources, diags, false)
}

/// Human-readable rendering, with ANSI colour when `styled`.
pub fn human_with(sources: &SourceMap, diags: &[Diagnostic], styled: bool) -> String {
    let renderer = renderer(styled);
    let mut out = String::new();
    for d in diags {
        out.push_str(&renderer.render(&[group(sources, d)]));
        out.push_str("\n\n");
    }
    out
}

/// A span clipped to the first line it starts on, as offsets into that file's text. Spans
/// over several lines (a whole mapping) would draw a tall bracket; the first line is where
/// the reader looks.
fn clip_to_line(file: &SourceFile, span: Span) -> (usize, std::ops::Range<usize>) {
    let len = file.text.len();
    let start = (span.start as usize).min(len);
    let (line, _) = file.line_col(start);
    let lr = file.line_range(line);
    let mut start = start.min(lr.end);
    let mut end = (span.end as usize).clamp(start, lr.end);
    // A span off character boundaries is a bug elsewhere; it must not crash the output.
    while !file.text.is_char_boundary(start) {
        start -= 1;
    }
    while !file.text.is_char_boundary(end) {
        end += 1;
    }
    (line, start..end)
}

/// Lines longer than this are not quoted: the position is given without the source, so a
/// hostile file of one huge line cannot make every diagnostic re-read it.
const LONG_LINE: usize = 4096;

/// Marks this many lines apart or more are shown as separate excerpts of the file.
const NEARBY_LINES: usize = 6;

/// One underlined span: the primary one or a label.
struct Mark<'a> {
    kind: AnnotationKind,
    line: usize,
    range: std::ops::Range<usize>,
    label: &'a str,
}

/// Groups marks of one file into runs of nearby lines: the primary mark's run first, the
/// others in line order.
fn clusters(mut marks: Vec<Mark<'_>>) -> Vec<Vec<Mark<'_>>> {
    let primary_line = marks
        .iter()
        .find(|m| matches!(m.kind, AnnotationKind::Primary))
        .map(|m| m.line);
    marks.sort_by_key(|m| (m.line, m.range.start));
    let mut out: Vec<Vec<Mark>> = Vec::new();
    for m in marks {
        match out.last_mut() {
            Some(c) if m.line - c.last().expect("never empty").line < NEARBY_LINES => c.push(m),
            _ => out.push(vec![m]),
        }
    }
    if let Some(line) = primary_line
        && let Some(i) = out.iter().position(|c| c.iter().any(|m| m.line == line))
    {
        let c = out.remove(i);
        out.insert(0, c);
    }
    out
}

/// The excerpt of `file` for one run of nearby marks, or just the position when a line is
/// too long to quote.
fn snippet<'a>(file: &'a SourceFile, marks: Vec<Mark<'a>>) -> annotate_snippets::Element<'a> {
    let first = marks.first().expect("never empty").line;
    let last = marks.last().expect("never empty").line;
    let from = file.line_range(first).start;
    let to = file.line_range(last).end;
    let path = file.path.to_string_lossy();
    if (first..=last).any(|l| file.line_range(l).len() > LONG_LINE) {
        let m = marks
            .iter()
            .find(|m| matches!(m.kind, AnnotationKind::Primary))
            .unwrap_or(&marks[0]);
        let (line, col) = file.line_col(m.range.start);
        return Origin::path(path).line(line).char_column(col).into();
    }
    let mut snippet = Snippet::source(&file.text[from..to])
        .line_start(first)
        .path(path);
    for m in marks {
        let a = m.kind.span(m.range.start - from..m.range.end - from);
        snippet = snippet.annotation(if m.label.is_empty() {
            a
        } else {
            a.label(m.label)
        });
    }
    snippet.into()
}

/// One rustc-style group for a diagnostic: the title, the source lines with the primary
/// span and any labels, then the hint.
fn group<'a>(sources: &'a SourceMap, d: &'a Diagnostic) -> Group<'a> {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(d.message.as_str()).id(d.code.as_str());
    let mut elements: Vec<annotate_snippets::Element<'a>> = Vec::new();
    match d.span {
        Some(primary) => {
            // The primary span's file first, then each other file a label points into.
            let mut files = vec![primary.file];
            for l in &d.labels {
                if !files.contains(&l.span.file) {
                    files.push(l.span.file);
                }
            }
            for fid in files {
                let file = sources.get(fid);
                let mut marks: Vec<Mark<'a>> = Vec::new();
                if fid == primary.file {
                    let (line, range) = clip_to_line(file, primary);
                    marks.push(Mark {
                        kind: AnnotationKind::Primary,
                        line,
                        range,
                        label: "",
                    });
                }
                for l in d.labels.iter().filter(|l| l.span.file == fid) {
                    let (line, range) = clip_to_line(file, l.span);
                    marks.push(Mark {
                        kind: AnnotationKind::Context,
                        line,
                        range,
                        label: l.message.as_str(),
                    });
                }
                for cluster in clusters(marks) {
                    elements.push(snippet(file, cluster));
                }
            }
        }
        None => {
            if let Some(p) = &d.path {
                elements.push(Origin::path(p.to_string_lossy()).into());
            }
        }
    }
    if let Some(h) = &d.hint {
        // Hints quote the user's text; a message is not cleaned by the renderer itself.
        elements.push(
            Level::HELP
                .message(annotate_snippets::normalize_untrusted_str(h))
                .into(),
        );
    }
    title.elements(elements)
}

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

/// The diagnostics reference, compiled in so `explain` and SARIF rules need no files.
const REFERENCE: &str = include_str!("../../docs/diagnostics.md");

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Diagnostic;

    fn one(text: &str, start: usize, end: usize) -> (SourceMap, Vec<Diagnostic>) {
        let mut sources = SourceMap::new();
        let fid = sources.add("pb.yaml", text);
        let d = Diagnostic::new(Code::UnknownTemplate, Span::new(fid, start, end), "bad")
            .with_hint("did you mean `welcome`?");
        (sources, vec![d])
    }

    /// Display column (0-based, in terminal cells) of the first caret under a source line.
    fn caret_cell(rendered: &str) -> usize {
        let line = rendered
            .lines()
            .find(|l| l.trim_start().starts_with('|') && l.contains('^'))
            .expect("a caret line");
        let bar = line.find('|').unwrap();
        line[bar..].find('^').unwrap() - 2
    }

    #[test]
    fn caret_lands_under_the_span_after_chinese_text() {
        // Each Han character takes two terminal cells, so the caret must sit after
        // 2 * 4 cells of Han text plus the ascii before it.
        let text = "name: 减脂打卡\nx: welcom # 欢迎\n";
        let start = text.find("welcom").unwrap();
        let (sources, diags) = one(text, start, start + 6);
        let out = human(&sources, &diags);
        assert!(out.contains(" --> pb.yaml:2:4"), "{out}");
        assert_eq!(caret_cell(&out), 3, "{out}");
        assert!(out.contains("^^^^^^"), "{out}");

        let text = "name: 减脂打卡营 welcom\n";
        let start = text.find("welcom").unwrap();
        let (sources, diags) = one(text, start, start + 6);
        let out = human(&sources, &diags);
        assert!(out.contains(" --> pb.yaml:1:13"), "{out}");
        assert_eq!(caret_cell(&out), "name: ".len() + 2 * 5 + 1, "{out}");
    }

    #[test]
    fn underline_covers_chinese_span_cell_for_cell() {
        let text = "goal: 帮助上班族\n";
        let start = text.find('帮').unwrap();
        let (sources, diags) = one(text, start, text.len() - 1);
        let out = human(&sources, &diags);
        assert_eq!(caret_cell(&out), 6, "{out}");
        assert!(out.contains(&format!("{}\n", "^".repeat(10))), "{out}");
    }

    #[test]
    fn spans_inside_a_character_are_widened_not_fatal() {
        let text = "\"读书\": 1\n";
        let (sources, diags) = one(text, 2, 6);
        let out = human(&sources, &diags);
        assert!(out.contains("^^^^"), "{out}");
    }

    #[test]
    fn plain_output_has_no_escape_codes_and_styled_has_them() {
        let (sources, diags) = one("a: b\n", 3, 4);
        assert!(!human(&sources, &diags).contains('\x1b'));
        assert!(human_with(&sources, &diags, true).contains('\x1b'));
    }

    #[test]
    fn hostile_text_cannot_send_escape_codes() {
        let (sources, mut diags) = one("a: b\n", 3, 4);
        diags[0].message = "bad \x1b[31m".into();
        diags[0].hint = Some("try \x1b]0;title\x07".into());
        let out = human(&sources, &diags);
        assert!(!out.contains('\x1b'), "{out:?}");
        assert!(!github(&sources, &diags).contains('\x1b'));
    }

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

    #[test]
    fn summary_lines() {
        let s = |errors, warnings, files_with_problems| Summary {
            errors,
            warnings,
            files: 3,
            files_with_problems,
            playbooks: 3,
        };
        assert_eq!(
            s(0, 0, 0).line(false, false),
            "ok: 3 playbooks, no problems"
        );
        assert_eq!(
            s(3, 1, 2).line(false, false),
            "error: 3 errors and 1 warning in 2 files"
        );
        assert_eq!(
            s(0, 1, 1).line(false, false),
            "warning: 1 warning in 1 file"
        );
        assert_eq!(
            s(0, 2, 1).line(true, false),
            "error: 2 warnings in 1 file (warnings are denied)"
        );
    }

    #[test]
    fn uris_are_relative_and_escaped() {
        assert_eq!(
            uri(std::path::Path::new("a b/减.yaml")),
            "a%20b/%E5%87%8F.yaml"
        );
    }
}
