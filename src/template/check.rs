//! Static checks of templates and conditions: syntax, and every variable a template uses
//! against the context of every place that sends it. A template that would fail at send
//! time fails validation instead, pointing at the line inside the template.

use crate::playbook::model::{ChannelKind, Condition, Playbook, Template};
use crate::source::Span;
use crate::template::{GLOBALS, STATS, environment, fields_of, places_of};
use crate::validate::{Code, Diagnostic, Diagnostics, suggest};
use std::collections::{BTreeSet, HashSet};

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
        }
    }
    let conditions = p
        .rewards
        .badges
        .iter()
        .map(|b| &b.when)
        .chain(
            p.rewards
                .lotteries
                .iter()
                .filter_map(|l| l.eligible.as_ref()),
        )
        .chain(p.segments.iter().map(|s| &s.when));
    for c in conditions {
        check_condition(&env, c, diags);
    }
}

/// Compiles a template; returns the variables it uses (nested paths such as `member.name`),
/// or reports its syntax error.
fn compile(
    env: &minijinja::Environment<'static>,
    t: &Template,
    diags: &mut Diagnostics,
) -> Option<BTreeSet<String>> {
    match env.template_from_str(&t.source) {
        Ok(tmpl) => Some(tmpl.undeclared_variables(true).into_iter().collect()),
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

/// Byte range of the first whole-word occurrence of `name` inside `{{ }}` or `{% %}`.
pub(crate) fn find_use(src: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let mut pos = 0;
    while let Some(open) = src[pos..].find(['{']).map(|i| pos + i) {
        let close_tag = match src.get(open + 1..open + 2) {
            Some("{") => "}}",
            Some("%") => "%}",
            _ => {
                pos = open + 1;
                continue;
            }
        };
        let body_start = open + 2;
        let end = src[body_start..]
            .find(close_tag)
            .map_or(src.len(), |i| body_start + i);
        let body = &src[body_start..end];
        let mut from = 0;
        while let Some(i) = body[from..].find(name).map(|i| from + i) {
            let before = body[..i].chars().next_back();
            let after = body[i + name.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if !word(before) && before != Some('.') && !word(after) {
                return Some(body_start + i..body_start + i + name.len());
            }
            from = i + name.len();
        }
        pos = end;
    }
    None
}

fn check_condition(env: &minijinja::Environment<'static>, c: &Condition, diags: &mut Diagnostics) {
    let src = &c.source;
    // The scalar's span includes its quotes; the expression starts after one.
    let quoted = src.span.end - src.span.start > src.value.len() as u32;
    let base = src.span.start as usize + usize::from(quoted);
    let at = |r: std::ops::Range<usize>| {
        Span::new(src.span.file, base + r.start, base + r.end.max(r.start + 1))
    };
    let expr = match env.compile_expression(&src.value) {
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
        if top == "stats"
            && let Some(field) = parts.next()
            && !STATS.contains(&field)
            && reported.insert(path.clone())
        {
            let mut d = Diagnostic::new(
                Code::InvalidCondition,
                word_at(&format!("stats.{field}")),
                format!("`stats` has no field `{field}`"),
            );
            d.hint = Some(match suggest(field, STATS.iter().copied()) {
                Some(s) => format!("did you mean `stats.{s}`?"),
                None => format!("`stats` has: {}", STATS.join(", ")),
            });
            diags.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::find_use;

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
