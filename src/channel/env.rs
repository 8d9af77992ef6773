//! `${NAME}` resolution and the secrets it produces.

use crate::playbook::model::EnvString;
use crate::source::Span;
use std::fmt;

/// A value that must never be printed: a webhook address, a token, a signing key.
/// `Debug` and `Display` show `***`; [`Secret::expose`] is the only way to the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value and the pieces of it that could appear on their own in an error: for an
    /// address, its query values and long path segments (a WeCom `key`, a Slack path token);
    /// and each of those percent-decoded, as a platform may echo it.
    fn pieces(&self) -> Vec<String> {
        let mut out = vec![self.0.clone()];
        if let Some((_, rest)) = self.0.split_once("://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            out.extend(path.split('/').skip(1).map(str::to_string));
            out.extend(
                query
                    .split('&')
                    .filter_map(|kv| kv.split_once('=').map(|(_, v)| v.to_string())),
            );
        }
        let decoded: Vec<String> = out.iter().filter_map(|p| percent_decoded(p)).collect();
        out.extend(decoded);
        // Short pieces (`v2`, `hook`, `api`) say nothing and would mangle every message.
        out.retain(|p| p.len() >= 8);
        out
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `text` with every secret, and every telling piece of one, replaced by `***`, in whatever
/// form it is echoed: as it is, percent-encoded (`%2F`, either case), form-encoded (`+` for a
/// space) or JSON-escaped (`\/`, `\u98de`), or any mix of these.
pub(crate) fn scrub(text: &str, secrets: &[Secret]) -> String {
    let mut pieces: Vec<Vec<char>> = secrets
        .iter()
        .flat_map(Secret::pieces)
        .map(|p| p.chars().collect())
        .collect();
    // Longest first, so a whole address goes before the token inside it.
    pieces.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    pieces.dedup();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        match pieces.iter().find_map(|p| echo_at(text, at, p)) {
            Some(end) => {
                out.push_str("***");
                at = end;
            }
            None => {
                out.push(c);
                at += c.len_utf8();
            }
        }
    }
    out
}

/// Where an echo of `secret` that starts at byte `at` of `text` ends, if one does.
fn echo_at(text: &str, at: usize, secret: &[char]) -> Option<usize> {
    let Some((&c, rest)) = secret.split_first() else {
        return Some(at);
    };
    // Each way `c` can be written; only a `%` or `\\` in the secret can start two of them.
    forms(text.as_bytes(), at, c)
        .into_iter()
        .flatten()
        .find_map(|end| echo_at(text, end, rest))
}

/// The ends of each form of `c` found at byte `at`: as it is, percent-encoded, `+` for a
/// space, JSON-escaped.
fn forms(text: &[u8], at: usize, c: char) -> [Option<usize>; 4] {
    let mut utf8 = [0u8; 4];
    let bytes = c.encode_utf8(&mut utf8).as_bytes();
    let rest = &text[at.min(text.len())..];
    let literal = rest.starts_with(bytes).then_some(at + bytes.len());
    let percent = bytes
        .iter()
        .enumerate()
        .all(|(i, b)| {
            rest.get(i * 3) == Some(&b'%')
                && rest.get(i * 3 + 1..i * 3 + 3).and_then(hex) == Some(u32::from(*b))
        })
        .then_some(at + bytes.len() * 3);
    let plus = (c == ' ' && rest.first() == Some(&b'+')).then_some(at + 1);
    [
        literal,
        percent,
        plus,
        json_escape_at(rest, c).map(|n| at + n),
    ]
}

/// The length of a JSON escape of `c` at the start of `rest`: `\"`, `\/`, `\n` and the
/// like, or `\uXXXX` (a pair of them beyond the first 65,536 characters), hex in either case.
fn json_escape_at(rest: &[u8], c: char) -> Option<usize> {
    if rest.first() != Some(&b'\\') {
        return None;
    }
    let short = match c {
        '"' => Some(b'"'),
        '\\' => Some(b'\\'),
        '/' => Some(b'/'),
        '\n' => Some(b'n'),
        '\r' => Some(b'r'),
        '\t' => Some(b't'),
        '\u{8}' => Some(b'b'),
        '\u{c}' => Some(b'f'),
        _ => None,
    };
    if short.is_some() && rest.get(1) == short.as_ref() {
        return Some(2);
    }
    let mut units = [0u16; 2];
    let mut len = 0;
    for unit in c.encode_utf16(&mut units).iter() {
        let esc = rest.get(len..len + 6)?;
        if !esc.starts_with(b"\\u") || hex(&esc[2..])? != u32::from(*unit) {
            return None;
        }
        len += 6;
    }
    Some(len)
}

/// The value of hex digits (either case), and nothing else: no sign, no blanks.
fn hex(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |v, d| char::from(*d).to_digit(16).map(|x| v * 16 + x))
}

/// `s` with its `%XX` sequences decoded, when it has any and they decode to UTF-8 text.
fn percent_decoded(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1..i + 3).and_then(hex)) {
            (b'%', Some(v)) => {
                out.push(v as u8);
                i += 3;
            }
            (v, _) => {
                out.push(v);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().filter(|d| d != s)
}

/// Replaces every `${NAME}` in `raw` with its value from `env`. On failure, the names that
/// are not set (or set to nothing), in order of appearance.
pub fn resolve(raw: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(raw.len());
    let mut missing = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            // The loader rejects this; keep the text as written if it ever gets here.
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        match env(name) {
            Some(v) if !v.is_empty() => out.push_str(&v),
            _ => {
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_string());
                }
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

/// The names `raw` refers to with `${NAME}`, in order, each once.
pub(crate) fn names(raw: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        if !out.contains(&&after[..end]) {
            out.push(&after[..end]);
        }
        rest = &after[end + 1..];
    }
    out
}

/// Why a channel could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `${name}` names an environment variable that is not set, or is empty.
    MissingVariable { name: String },
    /// The value is unusable; the message never contains the value itself.
    Invalid { message: String },
    /// No channel of that name in the playbook.
    UnknownChannel,
}

/// A channel that cannot be built, with the field and its position in the playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    pub channel: String,
    pub field: String,
    pub span: Span,
    pub problem: Problem,
}

impl BuildError {
    pub(crate) fn unknown_channel(id: &str, span: Span) -> BuildError {
        BuildError {
            channel: id.to_string(),
            field: String::new(),
            span,
            problem: Problem::UnknownChannel,
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::MissingVariable { name } => write!(
                f,
                "channel `{}`: environment variable `{name}` is not set (it is read for `{}`)",
                self.channel, self.field
            ),
            Problem::Invalid { message } => {
                write!(f, "channel `{}`: `{}` {message}", self.channel, self.field)
            }
            Problem::UnknownChannel => write!(f, "no channel named `{}`", self.channel),
        }
    }
}

impl std::error::Error for BuildError {}

/// Resolves the fields of one channel, collecting every problem and every secret.
pub(crate) struct Resolver<'e> {
    channel: String,
    env: &'e dyn Fn(&str) -> Option<String>,
    errors: Vec<BuildError>,
    secrets: Vec<Secret>,
}

impl<'e> Resolver<'e> {
    pub fn new(channel: &str, env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Resolver {
            channel: channel.to_string(),
            env,
            errors: Vec::new(),
            secrets: Vec::new(),
        }
    }

    fn raw(&mut self, field: &str, v: &EnvString) -> Option<String> {
        match resolve(&v.raw.value, self.env) {
            Ok(s) => Some(s),
            Err(names) => {
                for name in names {
                    self.errors.push(BuildError {
                        channel: self.channel.clone(),
                        field: field.to_string(),
                        span: v.raw.span,
                        problem: Problem::MissingVariable { name },
                    });
                }
                None
            }
        }
    }

    /// A field that is not secret (a file path).
    pub fn plain(&mut self, field: &str, v: &EnvString) -> Option<String> {
        self.raw(field, v)
    }

    /// A field whose value must never be shown.
    pub fn secret(&mut self, field: &str, v: &EnvString) -> Option<Secret> {
        let s = Secret::new(self.raw(field, v)?);
        self.secrets.push(s.clone());
        Some(s)
    }

    /// Reports an unusable value of `field`; `message` must not contain the value.
    pub fn invalid(&mut self, field: &str, v: &EnvString, message: impl Into<String>) {
        self.errors.push(BuildError {
            channel: self.channel.clone(),
            field: field.to_string(),
            span: v.raw.span,
            problem: Problem::Invalid {
                message: message.into(),
            },
        });
    }

    /// Reports an unusable value at a position that is not an `EnvString` (a template).
    pub fn invalid_at(&mut self, field: &str, span: Span, message: impl Into<String>) {
        self.errors.push(BuildError {
            channel: self.channel.clone(),
            field: field.to_string(),
            span,
            problem: Problem::Invalid {
                message: message.into(),
            },
        });
    }

    pub fn secrets(&self) -> Vec<Secret> {
        self.secrets.clone()
    }

    /// A variable of the environment the channel is built from, read as it is.
    pub fn variable(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.is_empty())
    }

    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn finish(self) -> Vec<BuildError> {
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_in_any_encoding_or_a_mix_are_scrubbed() {
        let s = [Secret::new("100% sure/飞书+")];
        for echo in [
            "100% sure/飞书+",
            "100%25%20sure%2F%E9%A3%9E%E4%B9%A6%2B",
            "100%25+sure%2f%e9%a3%9e%e4%b9%a6%2b",
            r"100% sure\/\u98de\u4E66+",
            "100%25 sure/飞%E4%B9%A6+",
        ] {
            assert_eq!(scrub(&format!("[{echo}]"), &s), "[***]", "{echo}");
        }
        // Near misses stay as they are.
        for other in ["100% sure/飞书", "100%2 sure/飞书+", "100% sure%2G飞书+"] {
            assert_eq!(scrub(other, &s), other);
        }
    }

    #[test]
    fn a_decoded_query_value_is_scrubbed_too() {
        let s = [Secret::new("https://h/x?key=a%2Bb%2Fcdefgh")];
        assert_eq!(scrub("key a+b/cdefgh bad", &s), "key *** bad");
        assert_eq!(scrub("key a%2Bb%2Fcdefgh bad", &s), "key *** bad");
    }

    #[test]
    fn names_are_listed_once_in_order() {
        assert_eq!(names("${A}-${B}/${A}${"), vec!["A", "B"]);
    }
}
