//! Static checks of templates and conditions: syntax, and every variable a template uses
//! against the context of every place that sends it. A template that would fail at send
//! time fails validation instead, pointing at the line inside the template.

use crate::diag::{Code, Diagnostic, Diagnostics, suggest};
use crate::playbook::model::{ChannelKind, Condition, Playbook, Template};
use crate::source::Span;
use crate::template::body::unquoted_value;
use crate::template::{Body, BodyError, GLOBALS, environment, fields_of, places_of};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Names a `when` or `eligible` condition may use.
pub const CONDITION_NAMES: &[&str] = &["member", "stats", "segments", "now"];

pub fn check(p: &Playbook, diags: &mut Diagnostics) {
    let env = environment(&p.community.locale);
    let places = places_of(p);
    for (id, t) in &p.templates {
        let Some(used) = compile(&env, t, diags) else {
            continue;
        };
        let mut reported: HashSet<String> = HashSet::new();
        for (_, place) in places.iter().filter(|(n, _)| *n == id.as_str()) {
            let vars = place.variables();
            for path in &used {
                check_path(t, path, &vars, |var| place.lacks(var), &mut reported, diags);
            }
        }
        let uses_topic = used.iter().any(|u| u == "topic" || u.starts_with("topic."));
        if !uses_topic {
            for (_, s) in p
                .all_slots()
                .filter(|(_, s)| s.template.value == *id && !s.topics.is_empty())
            {
                diags.push(
                    Diagnostic::new(
                        Code::TopicsUnused,
                        s.topics_span.unwrap_or(s.span),
                        format!(
                            "slot `{}` rotates topics, but its template `{id}` never uses `topic`",
                            s.id.value
                        ),
                    )
                    .with_label(t.id.span, "this template")
                    .with_hint("write `{{ topic }}` in the template, or remove `topics`"),
                );
            }
        }
    }
    for ch in p.channels.values() {
        if let ChannelKind::Webhook {
            body: Some(body), ..
        } = &ch.kind
            && let Some(used) = compile(&env, body, diags)
        {
            let vars = ["message", "fire", "community"];
            let mut reported = HashSet::new();
            for path in &used {
                check_path(
                    body,
                    path,
                    &vars,
                    |var| {
                        format!("a webhook body has `message`, `fire` and `community`, not `{var}`")
                    },
                    &mut reported,
                    diags,
                );
            }
            if reported.is_empty() {
                check_json_body(p, &ch.kind, body, diags);
            }
        }
    }
    for c in crate::template::conditions(p) {
        check_condition(&env, c, diags);
    }
}

/// A webhook body sent as JSON must still be JSON once rendered, with a message holding a
/// quote, a backslash and a line break. Values are escaped for their string, so this fails
/// for a value written outside quotes (or made `safe`), or for JSON that is broken as written.
fn check_json_body(p: &Playbook, kind: &ChannelKind, body: &Template, diags: &mut Diagnostics) {
    let ChannelKind::Webhook {
        method, headers, ..
    } = kind
    else {
        return;
    };
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.raw.value.as_str());
    // A type read from the environment is known only when the engine starts.
    if content_type.is_some_and(|t| t.contains("${"))
        || !crate::template::body::is_json(content_type)
        || method.eq_ignore_ascii_case("GET")
        || method.eq_ignore_ascii_case("HEAD")
    {
        return;
    }
    let Ok(b) = Body::compile(&body.source, &p.community.locale, true) else {
        return;
    };
    let Err(BodyError::NotJson(e)) = b.render_sample(p) else {
        return;
    };
    let (span, hint) = match unquoted_value(&body.source) {
        Some(r) => (
            body.origin.span_of(r),
            "this value is outside quotes: write `\"{{ message }}\"` (escaped for you) or `{{ message | tojson }}`",
        ),
        None => (
            body.origin.span,
            "write each value inside a JSON string (`\"text\": \"{{ message }}\"`) or as `{{ message | tojson }}`; to send text, set a `Content-Type` such as `text/plain` in `headers`",
        ),
    };
    diags.push(
        Diagnostic::new(
            Code::WebhookBodyNotJson,
            span,
            format!(
                "the body of channel `{}` is sent as JSON but does not render to JSON: {e} of the sample rendering",
                body.id.value
            ),
        )
        .with_hint(hint),
    );
}

/// Compiles a template; returns the variables it uses (nested paths such as `member.name`),
/// or reports its syntax error.
fn compile(
    env: &minijinja::Environment<'static>,
    t: &Template,
    diags: &mut Diagnostics,
) -> Option<BTreeSet<String>> {
    match env.template_from_str(&t.source) {
        Ok(tmpl) => {
            let mut known = Known::new(env);
            for (start, body) in tags(&t.source) {
                for (filter, name, r) in known.unknown_in(body) {
                    let span = t.origin.span_of(start + r.start..start + r.end);
                    diags.push(unknown_filter(filter, &name, span));
                }
            }
            Some(tmpl.undeclared_variables(true).into_iter().collect())
        }
        Err(e) => {
            let range = e
                .range()
                .or_else(|| e.line().map(|l| line_range(&t.source, l)));
            let span = range.map_or(t.id.span, |r| t.origin.span_of(r));
            let detail = e
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| e.kind().to_string());
            diags.push(
                Diagnostic::new(Code::TemplateSyntax, span, format!("template `{}`: {detail}", t.id.value))
                    .with_hint("templates use Jinja syntax: `{{ value }}` and `{% for x in list %}...{% endfor %}`"),
            );
            None
        }
    }
}

fn line_range(src: &str, line: usize) -> std::ops::Range<usize> {
    let start: usize = src
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let len = src[start.min(src.len())..]
        .find('\n')
        .unwrap_or(src.len() - start.min(src.len()));
    start..start + len
}

fn check_path(
    t: &Template,
    path: &str,
    vars: &[&str],
    lacks: impl Fn(&str) -> String,
    reported: &mut HashSet<String>,
    diags: &mut Diagnostics,
) {
    let mut parts = path.split('.');
    let top = parts.next().unwrap_or_default();
    if GLOBALS.contains(&top) {
        return;
    }
    if !vars.contains(&top) {
        if reported.insert(top.to_string()) {
            let mut d = Diagnostic::new(
                Code::TemplateUndefined,
                use_span(t, top),
                format!("template `{}` uses `{top}`, but {}", t.id.value, lacks(top)),
            );
            d.hint = Some(match suggest(top, vars.iter().copied()) {
                Some(s) => format!(
                    "did you mean `{s}`? Here the template can use: {}",
                    vars.join(", ")
                ),
                None => format!("here the template can use: {}", vars.join(", ")),
            });
            diags.push(d);
        }
        return;
    }
    let (Some(field), Some(fields)) = (parts.next(), fields_of(top)) else {
        return;
    };
    if !fields.contains(&field) && reported.insert(format!("{top}.{field}")) {
        let mut d = Diagnostic::new(
            Code::TemplateUndefined,
            use_span(t, &format!("{top}.{field}")),
            format!(
                "template `{}` uses `{top}.{field}`, but `{top}` has no field `{field}`",
                t.id.value
            ),
        );
        d.hint = Some(match suggest(field, fields.iter().copied()) {
            Some(s) => format!("did you mean `{top}.{s}`?"),
            None => format!("`{top}` has: {}", fields.join(", ")),
        });
        diags.push(d);
    }
}

/// The span of the first use of `name` inside a template's tags, or the template's id.
fn use_span(t: &Template, name: &str) -> Span {
    match find_use(&t.source, name) {
        Some(r) => t.origin.span_of(r),
        None => t.id.span,
    }
}

/// The bodies of the `{{ }}` and `{% %}` tags of a template, with their byte offsets.
fn tags(src: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(open) = src[pos..].find('{').map(|i| pos + i) {
        let close_tag = match src.get(open + 1..open + 2) {
            Some("{") => "}}",
            Some("%") => "%}",
            _ => {
                pos = open + 1;
                continue;
            }
        };
        let start = open + 2;
        let end = src[start..]
            .find(close_tag)
            .map_or(src.len(), |i| start + i);
        out.push((start, &src[start..end]));
        pos = end;
    }
    out
}

/// Byte range of the first whole-word occurrence of `name` inside `{{ }}` or `{% %}`.
pub(crate) fn find_use(src: &str, name: &str) -> Option<std::ops::Range<usize>> {
    for (start, body) in tags(src) {
        let mut from = 0;
        while let Some(i) = body[from..].find(name).map(|i| from + i) {
            let before = body[..i].chars().next_back();
            let after = body[i + name.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if !word(before) && before != Some('.') && !word(after) {
                return Some(start + i..start + i + name.len());
            }
            from = i + name.len();
        }
    }
    None
}

/// Filters and tests the engine has, asked of the engine itself (so the list never drifts
/// from what rendering will find).
struct Known<'e> {
    env: &'e minijinja::Environment<'static>,
    answers: HashMap<(bool, String), bool>,
}

impl<'e> Known<'e> {
    fn new(env: &'e minijinja::Environment<'static>) -> Self {
        Known {
            env,
            answers: HashMap::new(),
        }
    }

    fn has(&mut self, filter: bool, name: &str) -> bool {
        let env = self.env;
        *self
            .answers
            .entry((filter, name.to_string()))
            .or_insert_with(|| {
                let (probe, unknown) = if filter {
                    (
                        format!("{{{{ 1 | {name} }}}}"),
                        minijinja::ErrorKind::UnknownFilter,
                    )
                } else {
                    (
                        format!("{{{{ 1 is {name} }}}}"),
                        minijinja::ErrorKind::UnknownTest,
                    )
                };
                !matches!(env.render_str(&probe, ()), Err(e) if e.kind() == unknown)
            })
    }

    /// Every use of a filter or test the engine lacks in `code` (a tag body or an
    /// expression): whether it is a filter, its name, its byte range in `code`.
    fn unknown_in(&mut self, code: &str) -> Vec<(bool, String, std::ops::Range<usize>)> {
        // Blank out string literals so `'a|b'` is not read as a filter.
        let mut masked = code.as_bytes().to_vec();
        let mut quote = None;
        for b in masked.iter_mut() {
            match quote {
                Some(q) if *b == q => quote = None,
                Some(_) => *b = b' ',
                None if *b == b'"' || *b == b'\'' => quote = Some(*b),
                None => {}
            }
        }
        let masked = String::from_utf8_lossy(&masked).into_owned();
        let mut out = Vec::new();
        for cap in FILTER_OR_TEST.captures_iter(&masked) {
            let (filter, m) = match (cap.get(1), cap.get(2)) {
                (Some(m), _) => (true, m),
                (None, Some(m)) => (false, m),
                _ => continue,
            };
            if !self.has(filter, m.as_str()) {
                out.push((filter, m.as_str().to_string(), m.range()));
            }
        }
        out
    }
}

static FILTER_OR_TEST: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)|\bis\s+(?:not\s+)?([A-Za-z_][A-Za-z0-9_]*)")
        .expect("valid pattern")
});

fn unknown_filter(filter: bool, name: &str, span: Span) -> Diagnostic {
    let what = if filter { "filter" } else { "test" };
    Diagnostic::new(Code::UnknownFilter, span, format!("unknown {what} `{name}`")).with_hint(if filter {
        "filters: date, time, datetime, weekday, number, and Jinja's own (default, join, length, upper, ...)"
    } else {
        "tests: defined, none, number, string, odd, even, divisibleby, in, ..."
    })
}

fn check_condition(env: &minijinja::Environment<'static>, c: &Condition, diags: &mut Diagnostics) {
    let src = &c.source;
    // The scalar's span includes its quotes; the expression starts after one.
    let quoted = src.span.end - src.span.start > src.value.len() as u32;
    let base = src.span.start as usize + usize::from(quoted);
    let at = |r: std::ops::Range<usize>| {
        Span::new(src.span.file, base + r.start, base + r.end.max(r.start + 1))
    };
    let expr = match crate::template::condition(env, &src.value) {
        Ok(e) => e,
        Err(e) => {
            let span = e.range().map_or(src.span, at);
            let detail = e
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| e.kind().to_string());
            diags.push(
                Diagnostic::new(
                    Code::InvalidCondition,
                    span,
                    format!("condition does not compile: {detail}"),
                )
                .with_hint(
                    "write an expression such as `stats.messages_7d >= 10 and stats.streak > 3`",
                ),
            );
            return;
        }
    };
    for (filter, name, r) in Known::new(env).unknown_in(&src.value) {
        diags.push(unknown_filter(filter, &name, at(r)));
    }
    let used: BTreeSet<String> = expr.undeclared_variables(true).into_iter().collect();
    let mut reported = HashSet::new();
    for path in used {
        let mut parts = path.split('.');
        let top = parts.next().unwrap_or_default();
        if GLOBALS.contains(&top) {
            continue;
        }
        let word_at = |needle: &str| {
            let mut from = 0;
            while let Some(i) = src.value[from..].find(needle).map(|i| from + i) {
                let before = src.value[..i].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    return at(i..i + needle.len());
                }
                from = i + needle.len();
            }
            src.span
        };
        if !CONDITION_NAMES.contains(&top) {
            if reported.insert(top.to_string()) {
                let mut d = Diagnostic::new(
                    Code::InvalidCondition,
                    word_at(top),
                    format!(
                        "condition uses `{top}`; a condition can use member, stats, segments and now"
                    ),
                );
                if let Some(s) = suggest(top, CONDITION_NAMES.iter().copied()) {
                    d.hint = Some(format!("did you mean `{s}`?"));
                }
                diags.push(d);
            }
            continue;
        }
        if let Some(field) = parts.next()
            && let Some(fields) = fields_of(top)
            && !fields.contains(&field)
            && reported.insert(path.clone())
        {
            let mut d = Diagnostic::new(
                Code::InvalidCondition,
                word_at(&format!("{top}.{field}")),
                format!("`{top}` has no field `{field}`"),
            );
            d.hint = Some(match suggest(field, fields.iter().copied()) {
                Some(s) => format!("did you mean `{top}.{s}`?"),
                None => format!("`{top}` has: {}", fields.join(", ")),
            });
            diags.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Known, find_use};

    #[test]
    fn unknown_filters_and_tests_are_found_outside_strings() {
        let env = crate::template::environment("zh-CN");
        let mut known = Known::new(&env);
        let code = " now | nosuch('a|upper') | date if x is nosuchtest and y is not odd ";
        let found: Vec<(bool, String)> = known
            .unknown_in(code)
            .into_iter()
            .map(|(f, n, _)| (f, n))
            .collect();
        assert_eq!(
            found,
            vec![
                (true, "nosuch".to_string()),
                (false, "nosuchtest".to_string())
            ]
        );
    }

    #[test]
    fn finds_whole_words_inside_tags_only() {
        let src = "member 你好 {{ members }} {{ member.name }}";
        let r = find_use(src, "member.name").unwrap();
        assert_eq!(&src[r], "member.name");
        let r = find_use(src, "member").unwrap();
        assert_eq!(r.start, src.find("member.name").unwrap());
        assert_eq!(find_use("{{ x.member }}", "member"), None);
    }
}
