//! Turning the spanned YAML tree into typed values.
//!
//! Decoding never stops at the first problem: each field that fails adds a diagnostic and
//! the decoder carries on with its siblings, so one run reports every shape problem of a
//! file. A value that fails to decode is `None`; its parent then fails too, silently (the
//! cause is already reported).

use crate::diag::{Code, Diagnostic, Diagnostics, suggest};
use crate::source::{FileId, SourceFile, Span, Spanned};
use marked_yaml::Node;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use std::str::FromStr;

/// Decoding reports at most this many problems per file; a file with more is garbage or
/// hostile, and keeping them all would cost memory and bury the first ones.
pub const MAX_PROBLEMS_PER_FILE: usize = 1000;

pub struct Cx<'a> {
    pub file: &'a SourceFile,
    pub fid: FileId,
    pub diags: &'a mut Diagnostics,
    reported: usize,
    /// Problems found beyond [`MAX_PROBLEMS_PER_FILE`], and where the first of them is.
    pub dropped: usize,
    pub first_dropped: Option<Span>,
    lone_cr: bool,
}

/// True when the text has a carriage return not followed by a line feed: YAML counts it
/// as a line break, [`SourceFile`] does not.
pub fn has_lone_cr(text: &str) -> bool {
    text.match_indices('\r')
        .any(|(i, _)| text.as_bytes().get(i + 1) != Some(&b'\n'))
}

/// The byte offset of a parser marker. The marker's line and column are used, not its
/// character count: yaml-rust2 0.10 adds bytes instead of characters to that count for
/// the lines of a block scalar (`|`, `>`), so after any Chinese template it points too far.
/// Lines only disagree when the text has a lone carriage return (a line break to YAML, not
/// to us); then the character count is the better guess.
pub fn marker_byte(file: &SourceFile, lone_cr: bool, m: &marked_yaml::Marker) -> usize {
    let by_line = (!lone_cr)
        .then(|| file.byte_of_line_col(m.line(), m.column()))
        .flatten();
    by_line.unwrap_or_else(|| file.byte_of_char(m.character()))
}

impl<'a> Cx<'a> {
    pub fn new(file: &'a SourceFile, fid: FileId, diags: &'a mut Diagnostics) -> Self {
        Cx {
            file,
            fid,
            diags,
            reported: 0,
            dropped: 0,
            first_dropped: None,
            lone_cr: has_lone_cr(&file.text),
        }
    }

    fn byte(&self, m: &marked_yaml::Marker) -> usize {
        marker_byte(self.file, self.lone_cr, m)
    }

    /// Span of a node: start and end marks where the parser gives them; for scalars, which
    /// have no end mark, the end is found in the source text.
    pub fn span(&self, node: &Node) -> Span {
        match node {
            Node::Scalar(s) => self.scalar_span(s),
            _ => {
                let sp = node.span();
                let start = sp.start().map_or(0, |m| self.byte(m));
                let end = sp.end().map_or(start, |m| self.byte(m));
                // A block collection's end mark sits at the start of the next token; trim
                // trailing blank space so carets stay on the collection itself.
                let text = &self.file.text;
                let end = end.min(text.len()).max(start);
                let trimmed = start + text[start..end].trim_end().len();
                Span::new(
                    self.fid,
                    start,
                    trimmed.max(start + 1).min(text.len().max(start)),
                )
            }
        }
    }

    pub fn scalar_span(&self, s: &MarkedScalarNode) -> Span {
        let start = s.span().start().map_or(0, |m| self.byte(m));
        let text = &self.file.text;
        let rest = text.get(start..).unwrap_or_default();
        let value = s.as_str();
        let len = if !value.is_empty() && rest.starts_with(value) {
            value.len()
        } else if let Some(q @ ('"' | '\'')) = rest.chars().next() {
            quoted_len(rest, q)
        } else {
            rest.find('\n').unwrap_or(rest.len())
        };
        Span::new(self.fid, start, start + len)
    }

    pub fn report(&mut self, d: Diagnostic) {
        if self.reported < MAX_PROBLEMS_PER_FILE {
            self.reported += 1;
            self.diags.push(d);
        } else {
            self.dropped += 1;
            self.first_dropped = self.first_dropped.or(d.span);
        }
    }

    pub fn error(&mut self, code: Code, span: Span, message: impl Into<String>) {
        self.report(Diagnostic::new(code, span, message));
    }

    fn wrong_type(&mut self, node: &Node, expected: &str) {
        let found = match node {
            Node::Scalar(s) if is_null(s) => "nothing",
            Node::Scalar(_) => "a single value",
            Node::Sequence(_) => "a list",
            Node::Mapping(_) => "a mapping",
        };
        let span = self.span(node);
        self.error(
            Code::WrongType,
            span,
            format!("expected {expected}, found {found}"),
        );
    }

    /// Opens a mapping for field-by-field decoding; unknown keys are reported at once.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &'static str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Some(map) = node.as_mapping() else {
            self.wrong_type(node, &format!("a mapping ({what})"));
            return None;
        };
        let mut failed = false;
        for (k, _) in map.iter() {
            if !allowed.contains(&k.as_str()) {
                failed = true;
                let span = self.scalar_span(k);
                let mut d = Diagnostic::new(
                    Code::UnknownField,
                    span,
                    format!("unknown field `{}` in {what}", k.as_str()),
                );
                d.hint = Some(match suggest(k.as_str(), allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("{what} takes: {}", allowed.join(", ")),
                });
                self.report(d);
            }
        }
        Some(Fields {
            map,
            span: self.span(node),
            what,
            failed,
        })
    }

    pub fn decode<T: Decode>(&mut self, node: &Node) -> Option<T> {
        T::decode(node, self)
    }

    pub fn scalar<'n>(&mut self, node: &'n Node, expected: &str) -> Option<&'n MarkedScalarNode> {
        match node {
            Node::Scalar(s) if !is_null(s) => Some(s),
            _ => {
                self.wrong_type(node, expected);
                None
            }
        }
    }

    /// Decodes a scalar with `FromStr`, reporting its error message under `code`.
    pub fn parse<T: FromStr<Err = String>>(
        &mut self,
        node: &Node,
        expected: &str,
        code: Code,
    ) -> Option<T> {
        let s = self.scalar(node, expected)?;
        match s.as_str().parse::<T>() {
            Ok(v) => Some(v),
            Err(msg) => {
                let span = self.scalar_span(s);
                self.error(code, span, msg);
                None
            }
        }
    }

    /// Decodes each item of a list; an item that fails is dropped (and reported).
    pub fn list<T>(
        &mut self,
        node: &Node,
        expected: &str,
        mut item: impl FnMut(&mut Self, &Node) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Some(seq) = node.as_sequence() else {
            self.wrong_type(node, &format!("a list of {expected}"));
            return None;
        };
        let mut out = Vec::with_capacity(seq.len());
        let mut ok = true;
        for n in seq.iter() {
            match item(self, n) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Decodes a mapping keyed by ids (channels, templates, calendar moves): each key must be
    /// an id and each value decodes with `item`. Every bad key and value is reported.
    pub fn keyed<T>(
        &mut self,
        node: &Node,
        expected: &str,
        mut item: impl FnMut(&mut Self, Spanned<Id>, &Node) -> Option<T>,
    ) -> Option<Vec<(Spanned<Id>, T)>> {
        let Some(map) = node.as_mapping() else {
            let span = self.span(node);
            self.error(
                Code::WrongType,
                span,
                format!("expected a mapping of {expected}"),
            );
            return None;
        };
        let mut out = Vec::with_capacity(map.len());
        let mut ok = true;
        for (k, v) in map.iter() {
            let span = self.scalar_span(k);
            let id = match k.as_str().parse::<Id>() {
                Ok(id) => Spanned::new(id, span),
                Err(msg) => {
                    self.error(Code::InvalidId, span, msg);
                    ok = false;
                    continue;
                }
            };
            match item(self, id.clone(), v) {
                Some(value) => out.push((id, value)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// The text of a scalar and where each of its lines starts in the file.
    pub fn text_origin(&self, s: &MarkedScalarNode) -> crate::playbook::TextOrigin {
        let span = self.scalar_span(s);
        let text = &self.file.text;
        let start = span.start as usize;
        let first = text[start..].chars().next();
        let mut lines = Vec::new();
        let value = s.as_str();
        let line_offsets: Vec<usize> = std::iter::once(0)
            .chain(value.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        match first {
            Some('|' | '>') => {
                // Block scalar: content starts on the next line, at the block's indentation.
                let (line, _) = self.file.line_col(start);
                let mut indent = None;
                for (i, off) in line_offsets.iter().enumerate() {
                    let l = line + 1 + i;
                    if l > self.file.line_count() {
                        break;
                    }
                    let r = self.file.line_range(l);
                    let src = &text[r.clone()];
                    let ind = *indent.get_or_insert_with(|| src.len() - src.trim_start().len());
                    lines.push((*off, r.start + ind.min(src.len())));
                }
            }
            Some('"' | '\'') => lines.push((0, start + 1)),
            _ => {
                // Plain scalars, and block scalars whose mark is at their first content
                // character: each further line of text starts at the same indentation.
                let (line, _) = self.file.line_col(start);
                let indent = start - self.file.line_range(line).start;
                for (i, off) in line_offsets.iter().enumerate() {
                    let l = line + i;
                    if l > self.file.line_count() {
                        break;
                    }
                    let r = self.file.line_range(l);
                    lines.push((
                        *off,
                        if i == 0 {
                            start
                        } else {
                            r.start + indent.min(r.len())
                        },
                    ));
                }
            }
        }
        if lines.is_empty() {
            lines.push((0, start));
        }
        crate::playbook::TextOrigin { span, lines }
    }
}

fn quoted_len(rest: &str, q: char) -> usize {
    let mut it = rest.char_indices().skip(1).peekable();
    while let Some((i, c)) = it.next() {
        if q == '"' && c == '\\' {
            it.next();
        } else if c == q {
            if q == '\'' && it.peek().is_some_and(|(_, n)| *n == '\'') {
                it.next();
                continue;
            }
            return i + 1;
        }
    }
    rest.find('\n').unwrap_or(rest.len())
}

pub fn is_null(s: &MarkedScalarNode) -> bool {
    s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

/// A mapping being decoded field by field.
pub struct Fields<'n> {
    pub map: &'n MarkedMappingNode,
    pub span: Span,
    pub what: &'static str,
    failed: bool,
}

impl<'n> Fields<'n> {
    /// The node of a present, non-null field.
    pub fn node(&self, name: &str) -> Option<&'n Node> {
        match self.map.get_node(name) {
            Some(Node::Scalar(s)) if is_null(s) => None,
            other => other,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.node(name).is_some()
    }

    /// Span of the key `name`, for diagnostics about the field as a whole.
    pub fn key_span(&self, cx: &Cx, name: &str) -> Option<Span> {
        self.map
            .keys()
            .find(|k| k.as_str() == name)
            .map(|k| cx.scalar_span(k))
    }

    pub fn missing(&mut self, cx: &mut Cx, name: &str) {
        self.failed = true;
        let span = self
            .map
            .keys()
            .next()
            .map_or(self.span, |k| cx.scalar_span(k));
        cx.error(
            Code::MissingField,
            span,
            format!("missing field `{name}` in {}", self.what),
        );
    }

    /// A required field.
    pub fn req<T: Decode>(&mut self, cx: &mut Cx, name: &str) -> Option<T> {
        match self.node(name) {
            Some(n) => self.track(T::decode(n, cx)),
            None => {
                self.missing(cx, name);
                None
            }
        }
    }

    /// An optional field: `None` when absent or when it failed (which is reported).
    pub fn opt<T: Decode>(&mut self, cx: &mut Cx, name: &str) -> Option<T> {
        let n = self.node(name)?;
        self.track(T::decode(n, cx))
    }

    /// An optional field decoded by a custom function.
    pub fn opt_with<T>(
        &mut self,
        cx: &mut Cx,
        name: &str,
        f: impl FnOnce(&mut Cx, &Node) -> Option<T>,
    ) -> Option<T> {
        let n = self.node(name)?;
        let v = f(cx, n);
        self.track(v)
    }

    /// A required field decoded by a custom function.
    pub fn req_with<T>(
        &mut self,
        cx: &mut Cx,
        name: &str,
        f: impl FnOnce(&mut Cx, &Node) -> Option<T>,
    ) -> Option<T> {
        match self.node(name) {
            Some(n) => {
                let v = f(cx, n);
                self.track(v)
            }
            None => {
                self.missing(cx, name);
                None
            }
        }
    }

    /// An optional list, empty when absent.
    pub fn list<T: Decode>(&mut self, cx: &mut Cx, name: &str) -> Vec<T> {
        match self.node(name) {
            Some(n) => {
                let v = cx.list(n, T::EXPECTED, |cx, n| T::decode(n, cx));
                self.track(v).unwrap_or_default()
            }
            None => Vec::new(),
        }
    }

    fn track<T>(&mut self, v: Option<T>) -> Option<T> {
        if v.is_none() {
            self.failed = true;
        }
        v
    }

    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// `Some(())` when every field decoded; use with `?` before building the value.
    pub fn finish(&self) -> Option<()> {
        (!self.failed).then_some(())
    }
}

/// A type that can be decoded from a YAML node.
pub trait Decode: Sized {
    /// What the node should look like, for "expected ..." messages.
    const EXPECTED: &'static str;
    fn decode(node: &Node, cx: &mut Cx) -> Option<Self>;
}

impl Decode for String {
    const EXPECTED: &'static str = "text";
    fn decode(node: &Node, cx: &mut Cx) -> Option<Self> {
        cx.scalar(node, Self::EXPECTED)
            .map(|s| s.as_str().to_string())
    }
}

impl Decode for bool {
    const EXPECTED: &'static str = "true or false";
    fn decode(node: &Node, cx: &mut Cx) -> Option<Self> {
        let s = cx.scalar(node, Self::EXPECTED)?;
        match s.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            other => {
                let span = cx.scalar_span(s);
                cx.error(
                    Code::WrongType,
                    span,
                    format!("expected true or false, found `{other}`"),
                );
                None
            }
        }
    }
}

macro_rules! decode_number {
    ($($t:ty => $expected:literal),*) => {$(
        impl Decode for $t {
            const EXPECTED: &'static str = $expected;
            fn decode(node: &Node, cx: &mut Cx) -> Option<Self> {
                let s = cx.scalar(node, Self::EXPECTED)?;
                match s.as_str().trim().parse::<$t>() {
                    Ok(v) if (v as f64).is_finite() => Some(v),
                    _ => {
                        let span = cx.scalar_span(s);
                        cx.error(Code::WrongType, span, format!("expected {}, found `{}`", Self::EXPECTED, s.as_str()));
                        None
                    }
                }
            }
        }
    )*};
}

decode_number!(u32 => "a whole number of 0 or more", u64 => "a whole number of 0 or more", i64 => "a whole number", f64 => "a number");

impl<T: Decode> Decode for Spanned<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn decode(node: &Node, cx: &mut Cx) -> Option<Self> {
        let span = cx.span(node);
        T::decode(node, cx).map(|v| Spanned::new(v, span))
    }
}

impl<T: Decode> Decode for Vec<T> {
    const EXPECTED: &'static str = "a list";
    fn decode(node: &Node, cx: &mut Cx) -> Option<Self> {
        cx.list(node, T::EXPECTED, |cx, n| T::decode(n, cx))
    }
}

macro_rules! decode_fromstr {
    ($($t:ty => $expected:literal, $code:ident;)*) => {$(
        impl Decode for $t {
            const EXPECTED: &'static str = $expected;
            fn decode(node: &Node, cx: &mut Cx) -> Option<Self> {
                cx.parse::<$t>(node, $expected, Code::$code)
            }
        }
    )*};
}

use crate::playbook::types::{Cron, DateRange, Duration, Id, LocalTime, RateLimit, TimeWindow};

decode_fromstr! {
    Id => "an id", InvalidId;
    Duration => "a duration like 10m", InvalidDuration;
    LocalTime => "a local time HH:MM", InvalidTime;
    DateRange => "a date YYYY-MM-DD or range A..B", InvalidTime;
    TimeWindow => "a time window HH:MM-HH:MM", InvalidTime;
    Cron => "a cron expression", InvalidCron;
    RateLimit => "a rate limit like 20/min", InvalidValue;
}

/// Decodes one of a fixed set of words.
pub fn choice<T: Copy>(cx: &mut Cx, node: &Node, what: &str, options: &[(&str, T)]) -> Option<T> {
    let s = cx.scalar(node, what)?;
    if let Some((_, v)) = options.iter().find(|(n, _)| *n == s.as_str()) {
        return Some(*v);
    }
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    let span = cx.scalar_span(s);
    let mut d = Diagnostic::new(
        Code::InvalidValue,
        span,
        format!("`{}` is not a valid {what}", s.as_str()),
    );
    d.hint = Some(match suggest(s.as_str(), names.iter().copied()) {
        Some(m) => format!("did you mean `{m}`?"),
        None => format!("use one of: {}", names.join(", ")),
    });
    cx.report(d);
    None
}
