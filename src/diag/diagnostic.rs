//! The one diagnostic type every check produces, and the codes it can carry.

use crate::source::Span;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $severity:ident, $input:literal; )*) => {
        /// Every diagnostic code. The string form is stable: tools and docs refer to it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// True for problems that leave nothing to check: the file could not be read as a
            /// YAML mapping at all. They make `validate` exit with 2.
            pub fn is_unusable_input(self) -> bool {
                match self { $(Code::$variant => $input,)* }
            }

            pub fn from_name(name: &str) -> Option<Code> {
                match name { $($name => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    /// A path could not be read, or a folder held no playbook.
    Io = "io", Error, true;
    /// The file is not UTF-8 text.
    NotUtf8 = "not-utf8", Error, true;
    /// The file looks binary (it holds NUL bytes).
    BinaryFile = "binary-file", Error, true;
    /// The file is larger than a playbook can sensibly be.
    TooLarge = "too-large", Error, true;
    /// The file holds nothing but comments and blank lines.
    EmptyFile = "empty-file", Error, true;
    /// The YAML could not be parsed.
    YamlSyntax = "yaml-syntax", Error, true;
    /// Nesting deeper than any playbook needs.
    TooDeep = "too-deep", Error, true;
    /// A mapping names the same key twice.
    DuplicateKey = "duplicate-key", Error, true;
    /// Anchors, aliases and tags are not part of the language.
    YamlAnchor = "yaml-anchor", Error, true;
    /// The top of the file is not a mapping.
    NotAMapping = "not-a-mapping", Error, true;
    /// The playbook's `version` is missing or not one this engine knows.
    UnsupportedVersion = "unsupported-version", Error, false;
    /// A field the language does not have.
    UnknownField = "unknown-field", Error, false;
    /// A required field is absent.
    MissingField = "missing-field", Error, false;
    /// A value of the wrong shape: a list where a mapping belongs, text where a number belongs.
    WrongType = "wrong-type", Error, false;
    /// A value outside the field's allowed set or range.
    InvalidValue = "invalid-value", Error, false;
    /// An id that is not lowercase letters, digits and dashes.
    InvalidId = "invalid-id", Error, false;
    /// The same id is used twice where ids must be unique.
    DuplicateId = "duplicate-id", Error, false;
    /// Bad duration syntax.
    InvalidDuration = "invalid-duration", Error, false;
    /// Bad local time, date, date range or time window.
    InvalidTime = "invalid-time", Error, false;
    /// A cron expression that does not parse.
    InvalidCron = "invalid-cron", Error, false;
    /// Not an IANA time zone name.
    UnknownTimezone = "unknown-timezone", Error, false;
    /// A regular expression that does not compile.
    InvalidRegex = "invalid-regex", Error, false;
    /// A `${NAME}` reference that is malformed.
    InvalidEnvReference = "invalid-env-reference", Error, false;
    /// A slot has both or neither of `at` and `cron`, or `days` without `at`.
    SlotTiming = "slot-timing", Error, false;
    /// A reference to a template that does not exist.
    UnknownTemplate = "unknown-template", Error, false;
    /// A reference to a channel that does not exist.
    UnknownChannel = "unknown-channel", Error, false;
    /// A calendar entry names a slot that does not exist.
    UnknownSlot = "unknown-slot", Error, false;
    /// A message has no channel: no `channel`, no `default_channel`, several channels.
    NoChannel = "no-channel", Error, false;
    /// The first phase of an activity has no `start`.
    PhaseWithoutStart = "phase-without-start", Error, false;
    /// A phase starts before the one before it ends.
    OverlappingPhases = "overlapping-phases", Error, false;
    /// Tier thresholds do not strictly increase, or the first is not the lowest.
    TiersNotIncreasing = "tiers-not-increasing", Error, false;
    /// A date range or `runs` whose end comes before its start.
    ReversedRange = "reversed-range", Error, false;
    /// An `assist` channel that points at itself, at an assisted channel, or nowhere.
    InvalidAssist = "invalid-assist", Error, false;
    /// Template syntax that minijinja cannot compile.
    TemplateSyntax = "template-syntax", Error, false;
    /// A template uses a variable that the place it is sent from does not provide.
    TemplateUndefined = "template-undefined", Error, false;
    /// A template uses a filter or a test the engine does not have.
    UnknownFilter = "unknown-filter", Error, false;
    /// A `when` or `eligible` condition that does not compile or names unknown values.
    InvalidCondition = "invalid-condition", Error, false;
    /// A `webhook` body sent as JSON that is not JSON once rendered with sample values.
    WebhookBodyNotJson = "webhook-body-not-json", Error, false;
    /// Two loaded playbooks declare the same community id.
    DuplicateCommunity = "duplicate-community", Error, false;
    /// A file has more problems than are reported for one file; the rest are counted.
    TooManyProblems = "too-many-problems", Error, false;
    /// A template that nothing uses.
    UnusedTemplate = "unused-template", Warning, false;
    /// A slot whose every fire falls in quiet hours.
    SlotAlwaysQuiet = "slot-always-quiet", Warning, false;
    /// `topics` on a slot whose template never uses `topic`.
    TopicsUnused = "topics-unused", Warning, false;
    /// An activity whose phases end after `community.runs`.
    ActivityAfterRuns = "activity-after-runs", Warning, false;
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A secondary place that explains a diagnostic ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in the playbooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// Where the problem is. `None` only for problems with no file (an unreadable path).
    pub span: Option<Span>,
    /// Path shown when `span` is `None`.
    pub path: Option<std::path::PathBuf>,
    pub labels: Vec<Label>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            span: Some(span),
            path: None,
            labels: Vec::new(),
            hint: None,
        }
    }

    pub fn without_span(
        code: Code,
        path: impl Into<std::path::PathBuf>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            span: None,
            path: Some(path.into()),
            labels: Vec::new(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }
}

/// Collects every diagnostic of a run. Checks push into it and carry on: nothing returns
/// early on the first problem.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn error(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.items.push(Diagnostic::new(code, span, message));
        self.items.last_mut().expect("just pushed")
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Sorted by file and position, so output is stable whatever order checks ran in.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (a.span.map(|s| (s.file, s.start)), &a.path, a.code).cmp(&(
                b.span.map(|s| (s.file, s.start)),
                &b.path,
                b.code,
            ))
        });
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// "did you mean" for a misspelt name among the candidates, if one is close enough.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert_eq!(Code::from_name(code.as_str()), Some(*code));
        }
    }

    #[test]
    fn suggestions_pick_the_closest_name() {
        assert_eq!(suggest("welcom", ["welcome", "refusal"]), Some("welcome"));
        assert_eq!(suggest("zzz", ["welcome", "refusal"]), None);
    }
}
