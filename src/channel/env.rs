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
    /// address, its query values and long path segments (a WeCom `key`, a Slack path token).
    fn pieces(&self) -> Vec<&str> {
        let mut out = vec![self.0.as_str()];
        if let Some((_, rest)) = self.0.split_once("://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            out.extend(path.split('/').skip(1));
            out.extend(
                query
                    .split('&')
                    .filter_map(|kv| kv.split_once('=').map(|(_, v)| v)),
            );
        }
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

/// `text` with every secret, and every telling piece of one, replaced by `***`.
pub(crate) fn scrub(text: &str, secrets: &[Secret]) -> String {
    let mut pieces: Vec<&str> = secrets.iter().flat_map(Secret::pieces).collect();
    // Longest first, so a whole address goes before the token inside it.
    pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut out = text.to_string();
    for p in pieces {
        if out.contains(p) {
            out = out.replace(p, "***");
        }
    }
    out
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

    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn finish(self) -> Vec<BuildError> {
        self.errors
    }
}
