//! Loading playbooks from files and folders into typed values with positions.
//!
//! Loading is pure apart from reading the files named: no environment, no network. Hostile
//! input (binary files, huge files, alias bombs, deep nesting) is refused with a diagnostic
//! before the YAML parser sees it, so loading never hangs or grows without bound.

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::playbook::decode::{Cx, MAX_PROBLEMS_PER_FILE};
use crate::playbook::model::Playbook;
use crate::playbook::sections;
use crate::source::{FileId, SourceFile, SourceMap, Span};
use marked_yaml::LoadError;
use std::path::{Path, PathBuf};

/// Files larger than this are refused: a playbook is a few kilobytes.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Deeper nesting than this is refused: the language itself nests about eight levels.
pub const MAX_DEPTH: usize = 64;

/// The result of loading: every file read, every playbook that decoded, every problem.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    pub playbooks: Vec<Playbook>,
    pub diagnostics: Diagnostics,
}

/// Expands the given paths: files as they are, folders recursively to their `*.yaml` and
/// `*.yml` files in name order.
pub fn expand_paths(paths: &[PathBuf], diags: &mut Diagnostics) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let before = out.len();
            walk(p, &mut out, diags);
            if out.len() == before {
                diags.push(Diagnostic::without_span(
                    Code::Io,
                    p,
                    format!("no playbooks (*.yaml, *.yml) in folder {}", p.display()),
                ));
            }
        } else if p.exists() {
            out.push(p.clone());
        } else {
            diags.push(Diagnostic::without_span(
                Code::Io,
                p,
                format!("{}: no such file or folder", p.display()),
            ));
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, diags: &mut Diagnostics) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::without_span(
                Code::Io,
                dir,
                format!("cannot read folder {}: {e}", dir.display()),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, diags);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// Loads every playbook under the given paths.
///
/// Files are read and parsed on every core. Only giving each file its place in the source
/// map is done one by one, in order, so file ids, diagnostics and their order are exactly
/// what loading the files one after another gives.
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    let files = expand_paths(paths, &mut loaded.diagnostics);
    let read = crate::parallel::map(&files, |path| read_file(path).map(|b| admit(path, b)));
    // Per file: its id to parse, or the problem that stopped it before parsing.
    let placed: Vec<Result<FileId, Diagnostic>> = read
        .into_iter()
        .map(|r| r.and_then(|a| keep(&mut loaded.sources, a)))
        .collect();
    let sources = &loaded.sources;
    let parsed = crate::parallel::map(&placed, |p| {
        let mut diags = Diagnostics::new();
        let playbook = match p {
            Ok(fid) => load_source(sources, *fid, &mut diags),
            Err(_) => None,
        };
        (playbook, diags)
    });
    for (p, (playbook, diags)) in placed.into_iter().zip(parsed) {
        if let Err(d) = p {
            loaded.diagnostics.push(d);
        }
        loaded.diagnostics.extend(diags);
        loaded.playbooks.extend(playbook);
    }
    loaded
}

fn read_file(path: &Path) -> Result<Vec<u8>, Diagnostic> {
    use std::io::Read;
    let io = |e: std::io::Error| {
        Diagnostic::without_span(
            Code::Io,
            path,
            format!("cannot read {}: {e}", path.display()),
        )
    };
    // Only regular files: opening a named pipe waits for a writer, forever; a device may
    // never end. The type is checked before opening, and again on the opened file in case
    // the path was swapped in between; the open itself never waits.
    regular(path, &std::fs::metadata(path).map_err(io)?)?;
    let file = open_without_waiting(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    regular(path, &meta)?;
    let len = meta.len();
    if len > MAX_FILE_BYTES {
        return Err(Diagnostic::without_span(
            Code::TooLarge,
            path,
            format!(
                "{} is {} bytes; a playbook may be at most {} bytes",
                path.display(),
                len,
                MAX_FILE_BYTES
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(bytes)
}

/// Refuses anything but a regular file (or a link to one), saying what it is.
fn regular(path: &Path, meta: &std::fs::Metadata) -> Result<(), Diagnostic> {
    if meta.is_file() {
        return Ok(());
    }
    let t = meta.file_type();
    #[cfg(unix)]
    let what = {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            "a named pipe (FIFO)"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_dir() {
            "a folder"
        } else {
            "something other than a file"
        }
    };
    #[cfg(not(unix))]
    let what = if t.is_dir() {
        "a folder"
    } else {
        "something other than a file"
    };
    Err(Diagnostic::without_span(
        Code::Io,
        path,
        format!(
            "{} is {what}, not a playbook file: only regular files are read",
            path.display()
        ),
    ))
}

/// Opens for reading without waiting: `O_NONBLOCK` makes opening a named pipe return at
/// once (and changes nothing for a regular file).
fn open_without_waiting(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Loads one file's bytes; `path` is only used to name it.
pub fn load_bytes(loaded: &mut Loaded, path: &Path, bytes: Vec<u8>) {
    match keep(&mut loaded.sources, admit(path, bytes)) {
        Ok(fid) => {
            if let Some(p) = load_source(&loaded.sources, fid, &mut loaded.diagnostics) {
                loaded.playbooks.push(p);
            }
        }
        Err(d) => loaded.diagnostics.push(d),
    }
}

/// What one file's bytes are, decided before the file has a place in the source map.
enum Admitted {
    /// Not kept: larger than a playbook may be.
    Refused(Diagnostic),
    /// Kept to be shown, but not a playbook from byte `at` on: binary, or not UTF-8.
    Unreadable {
        file: SourceFile,
        at: usize,
        code: Code,
    },
    /// Text to parse.
    Text(SourceFile),
}

fn admit(path: &Path, bytes: Vec<u8>) -> Admitted {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Admitted::Refused(Diagnostic::without_span(
            Code::TooLarge,
            path,
            format!("{} is larger than {} bytes", path.display(), MAX_FILE_BYTES),
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let code = if bytes.contains(&0) {
                Code::BinaryFile
            } else {
                Code::NotUtf8
            };
            let text = String::from_utf8_lossy(&bytes[..at]).into_owned();
            return Admitted::Unreadable {
                file: SourceFile::new(path, text),
                at,
                code,
            };
        }
    };
    let text = text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text);
    if let Some(at) = text.find('\0') {
        return Admitted::Unreadable {
            file: SourceFile::new(path, &text[..at]),
            at,
            code: Code::BinaryFile,
        };
    }
    Admitted::Text(SourceFile::new(path, text))
}

/// Gives an admitted file its place in the source map: the id of a text to parse, or the
/// problem of a file that is not one (kept in the map to be shown, when it has text).
fn keep(sources: &mut SourceMap, a: Admitted) -> Result<FileId, Diagnostic> {
    match a {
        Admitted::Refused(d) => Err(d),
        Admitted::Unreadable { file, at, code } => {
            let span = Span::new(sources.push(file), at, at);
            Err(if code == Code::BinaryFile {
                Diagnostic::new(code, span, "this is a binary file, not a YAML playbook")
            } else {
                Diagnostic::new(code, span, "the file is not UTF-8 text")
                    .with_hint("save the file as UTF-8 (most editors offer it under \"encoding\")")
            })
        }
        Admitted::Text(file) => Ok(sources.push(file)),
    }
}

/// Parses and decodes one file already in the source map.
pub fn load_source(sources: &SourceMap, fid: FileId, diags: &mut Diagnostics) -> Option<Playbook> {
    let file = sources.get(fid);
    let text = file.text.as_str();
    if text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    }) {
        diags.push(
            Diagnostic::new(Code::EmptyFile, Span::new(fid, 0, 0), "the file is empty")
                .with_hint("a playbook starts with `version: 1` and a `community` section; `drumbeat init` writes one"),
        );
        return None;
    }
    if let Some(at) = second_document(text) {
        // The YAML parser would keep the first document and drop the rest without a word.
        diags.push(
            Diagnostic::new(
                Code::YamlSyntax,
                Span::new(fid, at, at + 3),
                "a playbook file holds one YAML document, but another one follows this marker",
            )
            .with_hint("put each playbook in its own file"),
        );
        return None;
    }
    if let Some(at) = too_deep(text) {
        diags.push(Diagnostic::new(
            Code::TooDeep,
            Span::new(fid, at, at + 1),
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ));
        return None;
    }
    let options = marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true);
    let node = match marked_yaml::parse_yaml_with_options(fid.0 as usize, text, options) {
        Ok(n) => n,
        Err(e) => {
            diags.push(load_error(sources, fid, e));
            return None;
        }
    };
    let mut cx = Cx::new(file, fid, diags);
    let playbook = sections::playbook(&node, &mut cx);
    if cx.dropped > 0 {
        let span = cx.first_dropped.unwrap_or(Span::new(fid, 0, 0));
        let d = Diagnostic::new(
            Code::TooManyProblems,
            span,
            format!(
                "{} more problems in this file are not shown; the first of them is here",
                cx.dropped
            ),
        )
        .with_hint(format!(
            "only the first {MAX_PROBLEMS_PER_FILE} problems of a file are reported; fix those and run again"
        ));
        cx.diags.push(d);
    }
    playbook
}

fn load_error(sources: &SourceMap, fid: FileId, e: LoadError) -> Diagnostic {
    let file = sources.get(fid);
    let lone_cr = crate::playbook::decode::has_lone_cr(&file.text);
    let at = |m: &marked_yaml::Marker| {
        let b = crate::playbook::decode::marker_byte(file, lone_cr, m);
        let len = file.text[b..].chars().next().map_or(0, char::len_utf8);
        Span::new(fid, b, b + len)
    };
    // The parser marks the node an anchor or tag belongs to; point at the `&name` or
    // `!tag` written just before it instead.
    let property = |m: &marked_yaml::Marker, sigil: char| {
        let node = at(m);
        let before = file.text[..node.start as usize].trim_end();
        let token_start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        if before[token_start..].starts_with(sigil) {
            Span::new(fid, token_start, before.len())
        } else {
            node
        }
    };
    match e {
        LoadError::TopLevelMustBeMapping(m) => Diagnostic::new(
            Code::NotAMapping,
            at(&m),
            "a playbook is a mapping of sections (`version:`, `community:`, ...), not a list or a single value",
        ),
        LoadError::TopLevelMustBeSequence(m) => {
            Diagnostic::new(Code::NotAMapping, at(&m), "unexpected top level")
        }
        LoadError::UnexpectedAnchor(m) => Diagnostic::new(
            Code::YamlAnchor,
            property(&m, '&'),
            "YAML anchors and aliases are not allowed in playbooks",
        )
        .with_hint("write the value out where it is needed"),
        LoadError::UnexpectedTag(m) => Diagnostic::new(
            Code::YamlAnchor,
            property(&m, '!'),
            "YAML tags are not allowed in playbooks",
        )
        .with_hint("remove the `!tag`"),
        LoadError::MappingKeyMustBeScalar(m) => Diagnostic::new(
            Code::YamlSyntax,
            at(&m),
            "a mapping key must be a plain name",
        ),
        LoadError::DuplicateKey(inner) => {
            // The keys' spans as the decoder finds them: the written text, quotes included
            // (a quoted key is longer in the file than its value).
            let mut scratch = Diagnostics::new();
            let cx = Cx::new(file, fid, &mut scratch);
            let second = cx.scalar_span(&inner.key);
            let first = inner
                .prev_key
                .span()
                .start()
                .map(|_| cx.scalar_span(&inner.prev_key));
            let key = inner.key.as_str();
            let mut d =
                Diagnostic::new(Code::DuplicateKey, second, format!("duplicate key `{key}`"));
            if let Some(f) = first {
                d = d.with_label(f, "first written here");
            }
            d.with_hint("a key may appear once in a mapping; merge the two")
        }
        LoadError::ScanError(m, err) => {
            let span = at(&m);
            let msg = err.info().to_string();
            let mut d =
                Diagnostic::new(Code::YamlSyntax, span, format!("YAML syntax error: {msg}"));
            let line = file.line_range(file.line_col(span.start as usize).0);
            if file.text[line].starts_with(['\t', ' ']) && file.text[span.range()].contains('\t')
                || msg.contains("tab")
            {
                d = d.with_hint("YAML indentation uses spaces, not tabs");
            }
            d
        }
    }
}

/// Where a document marker (`---` or `...` at the start of a line) is followed by more
/// content after the first document has begun.
fn second_document(text: &str) -> Option<usize> {
    let is_content = |t: &str| {
        let t = t.trim();
        !t.is_empty() && !t.starts_with('#')
    };
    let mut seen_content = false;
    let mut marker = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let here = offset;
        offset += line.len();
        let rest = line
            .strip_prefix("---")
            .or_else(|| line.strip_prefix("..."))
            .filter(|r| r.is_empty() || r.starts_with([' ', '\t', '\r', '\n']));
        let body = match rest {
            Some(r) => {
                if seen_content && marker.is_none() {
                    marker = Some(here);
                }
                r
            }
            None => line,
        };
        // `%YAML` and `%TAG` directives come before the first document.
        let directive = !seen_content && marker.is_none() && line.starts_with('%');
        if is_content(body) && !directive {
            if marker.is_some() {
                return marker;
            }
            seen_content = true;
        }
    }
    None
}

/// Collections opened on one line by compact indicators: `- - x`, `? - x`, `: - x`.
/// The YAML parser loads nodes recursively, so these must be counted too: a line of
/// 100,000 `? ` would otherwise overflow the stack.
fn compact_depth(line: &str) -> usize {
    let mut depth = 0;
    let mut rest = line;
    while let Some(after) = rest.strip_prefix(['-', '?', ':']) {
        if !(after.is_empty() || after.starts_with([' ', '\t'])) {
            break;
        }
        depth += 1;
        rest = after.trim_start_matches([' ', '\t']);
    }
    depth
}

/// Finds where flow or block nesting exceeds [`MAX_DEPTH`], without parsing.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut closed_single: Option<usize> = None;
    let mut in_comment = false;
    // What came just before, to tell as YAML does where a comment or a quoted scalar
    // starts: `#` after a blank, a quote at the start of a scalar (so `b#` and `x'y` inside
    // plain text start nothing, and cannot hide brackets from this count).
    let mut prev = '\n';
    let mut prev_solid: Option<char> = None;
    for (i, c) in text.char_indices() {
        if in_comment {
            if c != '\n' {
                continue;
            }
            in_comment = false;
        }
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if q == '"' && c == '\\' {
                escaped = true;
            } else if c == q || (c == '\n' && depth == 0) {
                // Outside brackets a line break ends the count of a quote: an apostrophe in
                // a block of template text must not hide the rest of the file.
                quote = None;
                closed_single = (c == '\'').then_some(i);
            }
        } else if c == '\'' && closed_single.is_some_and(|j| j + 1 == i) {
            // `''` is an apostrophe inside a single-quoted scalar.
            quote = Some(c);
        } else {
            match c {
                '#' if prev.is_whitespace() => in_comment = true,
                '"' | '\''
                    if matches!(prev_solid, None | Some('[' | '{' | ',' | ':' | '-' | '?')) =>
                {
                    quote = Some(c)
                }
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some(i);
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = c;
        if c == '\n' && depth == 0 {
            prev_solid = None;
        } else if !c.is_whitespace() {
            prev_solid = Some(c);
        }
    }
    // Block nesting: count indentation levels along the current path.
    let mut stack: Vec<usize> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        let t = body.trim();
        if !t.is_empty() && !t.starts_with('#') {
            while stack.last().is_some_and(|&l| l >= indent) {
                stack.pop();
            }
            stack.push(indent);
            if stack.len() + compact_depth(t) > MAX_DEPTH {
                return Some(offset + indent);
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_not_nesting() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        // Brackets inside quoted scalars, after apostrophes and `#` in plain text, and in
        // comments do not count.
        for ok in [
            format!("a: '{deep}'\n"),
            format!("a: \"x \\\" {deep}\"\n"),
            format!("a: 'it''s {deep}'\n"),
            format!("a: b # {deep}\n"),
            format!("t: |\n  Don't say \"hi\n  {}\nb: 1\n", "[]".repeat(100)),
            format!("a: [x, '{deep}', \"{deep}\"]\n"),
            // Found by fuzzing: a quote as the very first character.
            "'ve[8 1\n".to_string(),
        ] {
            assert_eq!(too_deep(&ok), None, "{ok}");
        }
    }

    #[test]
    fn nesting_hidden_in_plain_text_is_counted() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for bad in [
            format!("a: [x'y, {deep}]\n"),
            format!("a: [b#, {deep}]\n"),
            format!("a: [\"q\\\"\", {deep}]\n"),
            format!("t: |\n  it's \"open\nb: {deep}\n"),
        ] {
            assert!(too_deep(&bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn compact_indicators_nest() {
        assert_eq!(compact_depth("- - - x"), 3);
        assert_eq!(compact_depth("? - : - x"), 4);
        assert_eq!(compact_depth("-"), 1);
        assert_eq!(compact_depth("-x: 1"), 0);
        assert_eq!(compact_depth("key: - x"), 0);
    }

    #[test]
    fn a_second_document_is_found() {
        assert_eq!(second_document("a: 1\n---\nb: 2\n"), Some(5));
        assert_eq!(second_document("a: 1\n...\nb: 2\n"), Some(5));
        assert_eq!(second_document("a: 1\n--- b\n"), Some(5));
        assert_eq!(second_document("---\na: 1\n...\n# done\n"), None);
        assert_eq!(second_document("%YAML 1.2\n---\na: 1\n"), None);
        assert_eq!(second_document("a: |\n  ----\n  text\n"), None);
        assert_eq!(second_document("a: 1\n---\n\n# only a comment\n"), None);
    }
}
