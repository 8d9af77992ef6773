//! The rendering for people: rustc-style blocks drawn by annotate-snippets, and the summary
//! line that ends a report.

use super::Summary;
use crate::diag::{Diagnostic, Severity};
use crate::source::{SourceFile, SourceMap, Span};
use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

impl Summary {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::render::{github, one};

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
}
