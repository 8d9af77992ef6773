//! Loading playbooks from files and folders into typed values with positions.
//!
//! Loading is pure apart from reading the files named: no environment, no network. Hostile
//! input (binary files, huge files, alias bombs, deep nesting) is refused with a diagnostic
//! before the YAML parser sees it, so loading never hangs or grows without bound.

use crate::playbook::decode::Cx;
use crate::playbook::model::Playbook;
use crate::playbook::sections;
use crate::source::{FileId, SourceMap, Span};
use crate::validate::{Code, Diagnostic, Diagnostics};
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
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    let files = expand_paths(paths, &mut loaded.diagnostics);
    for path in files {
        match read_file(&path) {
            Ok(bytes) => load_bytes(&mut loaded, &path, bytes),
            Err(d) => loaded.diagnostics.push(d),
        }
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
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
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

/// Loads one file's bytes; `path` is only used to name it.
pub fn load_bytes(loaded: &mut Loaded, path: &Path, bytes: Vec<u8>) {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        loaded.diagnostics.push(Diagnostic::without_span(
            Code::TooLarge,
            path,
            format!("{} is larger than {} bytes", path.display(), MAX_FILE_BYTES),
        ));
        return;
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let binary = bytes.contains(&0);
            let lossy = String::from_utf8_lossy(&bytes[..at]).into_owned();
            let fid = loaded.sources.add(path, lossy);
            let span = Span::new(fid, at, at);
            let d = if binary {
                Diagnostic::new(
                    Code::BinaryFile,
                    span,
                    "this is a binary file, not a YAML playbook",
                )
            } else {
                Diagnostic::new(Code::NotUtf8, span, "the file is not UTF-8 text")
                    .with_hint("save the file as UTF-8 (most editors offer it under \"encoding\")")
            };
            loaded.diagnostics.push(d);
            return;
        }
    };
    let text = text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text);
    if let Some(at) = text.find('\0') {
        let fid = loaded.sources.add(path, text[..at].to_string());
        loaded.diagnostics.push(Diagnostic::new(
            Code::BinaryFile,
            Span::new(fid, at, at),
            "this is a binary file, not a YAML playbook",
        ));
        return;
    }
    let fid = loaded.sources.add(path, text);
    if let Some(p) = load_source(&loaded.sources, fid, &mut loaded.diagnostics) {
        loaded.playbooks.push(p);
    }
}

/// Parses and decodes one file already in the source map.
pub fn load_source(sources: &SourceMap, fid: FileId, diags: &mut Diagnostics) -> Option<Playbook> {
    let file = sources.get(fid);
    let text = file.text.as_str();
    if text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    }) {
        diags.push(
            Diagnostic::new(Code::EmptyFile, Span::new(fid, 0, 0), "the file is empty")
                .with_hint("a playbook starts with `version: 1` and a `community` section; `drumbeat init` writes one"),
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
    sections::playbook(&node, &mut cx)
}

fn load_error(sources: &SourceMap, fid: FileId, e: LoadError) -> Diagnostic {
    let file = sources.get(fid);
    let at = |m: &marked_yaml::Marker| {
        let b = file.byte_of_char(m.character());
        let len = file.text[b..].chars().next().map_or(0, char::len_utf8);
        Span::new(fid, b, b + len)
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
            at(&m),
            "YAML anchors and aliases are not allowed in playbooks",
        )
        .with_hint("write the value out where it is needed"),
        LoadError::UnexpectedTag(m) => Diagnostic::new(
            Code::YamlAnchor,
            at(&m),
            "YAML tags are not allowed in playbooks",
        )
        .with_hint("remove the `!tag`"),
        LoadError::MappingKeyMustBeScalar(m) => Diagnostic::new(
            Code::YamlSyntax,
            at(&m),
            "a mapping key must be a plain name",
        ),
        LoadError::DuplicateKey(inner) => {
            let first = inner.prev_key.span().start().map(at);
            let second = inner
                .key
                .span()
                .start()
                .map(at)
                .unwrap_or(Span::new(fid, 0, 0));
            let key = inner.key.as_str();
            let span = Span::new(
                fid,
                second.start as usize,
                second.start as usize + key.len(),
            );
            let mut d = Diagnostic::new(Code::DuplicateKey, span, format!("duplicate key `{key}`"));
            if let Some(f) = first {
                d = d.with_label(
                    Span::new(fid, f.start as usize, f.start as usize + key.len()),
                    "first written here",
                );
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

/// Finds where flow or block nesting exceeds [`MAX_DEPTH`], without parsing.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut in_comment = false;
    for (i, c) in text.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        match (quote, c) {
            (Some('"'), '\\') => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if depth > 0 => quote = Some(c),
            (None, '#') => in_comment = true,
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
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
            // `- - - x` nests on one line.
            let dashes = t.split("- ").take_while(|s| s.is_empty()).count();
            if stack.len() + dashes > MAX_DEPTH {
                return Some(offset + indent);
            }
        }
        offset += line.len();
    }
    None
}
