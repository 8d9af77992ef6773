//! The `body` of a `webhook` channel: a template whose output is the request body.
//!
//! A body sent as JSON (no `Content-Type`, or a JSON one) is rendered with every value
//! JSON-escaped, so `"{{ message }}"` stays one string whatever the message holds (a quote,
//! a backslash, a line break), and the rendered text must parse as JSON before it is sent.
//! Values already written as JSON (`{{ message | tojson }}`, or `| safe`) go in as they are.
//! Any other body is text and is sent exactly as rendered.

use crate::playbook::model::Playbook;
use minijinja::{Environment, Value};
use serde_json::json;
use std::fmt;

/// A compiled body template.
pub struct Body {
    env: Environment<'static>,
    json: bool,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body").field("json", &self.json).finish()
    }
}

/// Why a body could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The template failed (an undefined value, a failing filter).
    Render(String),
    /// A JSON body whose rendered text is not JSON: the parser's message.
    NotJson(String),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Render(e) => write!(f, "the body template failed: {e}"),
            BodyError::NotJson(e) => write!(f, "the body is not valid JSON once rendered ({e})"),
        }
    }
}

/// Whether a body sent with this `Content-Type` is JSON. No header means `application/json`,
/// the webhook channel's default.
pub fn is_json(content_type: Option<&str>) -> bool {
    let Some(v) = content_type else {
        return true;
    };
    let media = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || media.ends_with("+json")
}

impl Body {
    /// Compiles `source`; `json` says whether it is sent as JSON.
    pub fn compile(source: &str, locale: &str, json: bool) -> Result<Body, minijinja::Error> {
        let mut env = super::environment(locale);
        if json {
            env.set_formatter(|out, _, value| {
                if value.is_none() {
                    return Ok(());
                }
                if value.is_safe() {
                    return write!(out, "{value}").map_err(Into::into);
                }
                let quoted = serde_json::to_string(&value.to_string()).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
                })?;
                // The inside of a JSON string: the quotes are the template's.
                out.write_str(&quoted[1..quoted.len() - 1])
                    .map_err(Into::into)
            });
        }
        env.add_template_owned("body", source.to_string())?;
        Ok(Body { env, json })
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// The body for one message; a JSON body is checked to parse.
    pub fn render(
        &self,
        message: &str,
        fire: &serde_json::Value,
        community: Value,
    ) -> Result<String, BodyError> {
        let t = self
            .env
            .get_template("body")
            .map_err(|e| BodyError::Render(e.to_string()))?;
        let ctx = minijinja::context! {
            message => message,
            fire => Value::from(minijinja::value::Serde(fire)),
            community => community,
        };
        let text = t.render(ctx).map_err(|e| {
            BodyError::Render(match e.detail() {
                Some(d) => format!("{}: {d}", e.kind()),
                None => e.kind().to_string(),
            })
        })?;
        if self.json
            && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&text)
        {
            return Err(BodyError::NotJson(e.to_string()));
        }
        Ok(text)
    }

    /// The body with sample values, for validation: a message with a quote, a backslash and
    /// a line break, as members' names and texts may have.
    pub fn render_sample(&self, p: &Playbook) -> Result<String, BodyError> {
        let fire = json!({
            "key": format!("{}/content/sample/hook/20261201T000000Z", p.community.id.value.as_str()),
            "source": "content/sample",
            "at": "2026-12-01T00:00:00Z",
        });
        self.render(
            "示例 \"消息\" \\ 第一行\n第二行",
            &fire,
            super::community_value(p),
        )
    }
}

/// The first `{{ value }}` of a template written outside a JSON string and not as JSON
/// (`| tojson`): where a JSON body that does not parse most likely goes wrong. Byte range of
/// the tag in `src`.
pub(crate) fn unquoted_value(src: &str) -> Option<std::ops::Range<usize>> {
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < src.len() {
        let rest = &src[i..];
        let tag_end = |close: &str| rest.find(close).map_or(src.len(), |e| i + e + close.len());
        if rest.starts_with("{%") || rest.starts_with("{#") {
            i = tag_end(if rest.starts_with("{%") { "%}" } else { "#}" });
            continue;
        }
        if rest.starts_with("{{") {
            let end = tag_end("}}");
            let inner = src.get(i + 2..end.saturating_sub(2)).unwrap_or("").trim();
            let as_json = inner
                .rsplit('|')
                .next()
                .is_some_and(|f| f.trim().starts_with("tojson"));
            if !in_string && !as_json {
                return Some(i..end);
            }
            i = end;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if escaped {
            escaped = false;
        } else if in_string && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
        i += c.len_utf8();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, message: &str) -> Result<String, BodyError> {
        Body::compile(src, "zh-CN", true)
            .unwrap()
            .render(message, &json!({}), Value::from(()))
    }

    #[test]
    fn values_inside_strings_stay_there() {
        let out = render(r#"{"text": "{{ message }}"}"#, "a\"b\\c\nd").unwrap();
        assert_eq!(out, r#"{"text": "a\"b\\c\nd"}"#);
        // Already JSON: written once, not escaped again.
        let out = render(r#"{"text": {{ message | tojson }}}"#, "a\"b").unwrap();
        assert_eq!(out, r#"{"text": "a\"b"}"#);
    }

    #[test]
    fn a_value_outside_quotes_is_not_json() {
        let e = render(r#"{"text": {{ message }}}"#, "hi").unwrap_err();
        assert!(matches!(e, BodyError::NotJson(_)), "{e:?}");
    }

    #[test]
    fn text_bodies_are_sent_as_rendered() {
        let b = Body::compile("{{ message }}", "zh-CN", false).unwrap();
        let out = b.render("a\"b", &json!({}), Value::from(())).unwrap();
        assert_eq!(out, "a\"b");
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(None));
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("Application/Vnd.Api+JSON")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/x-www-form-urlencoded")));
    }

    #[test]
    fn the_unquoted_value_is_found() {
        let src = r#"{"a": "{{ x }}", "b": {{ y | tojson }}, {% if z %}"c": {{ z }}{% endif %}}"#;
        let r = unquoted_value(src).unwrap();
        assert_eq!(&src[r], "{{ z }}");
        assert_eq!(unquoted_value(r#"{"a": "say \"{{ x }}\""}"#), None);
    }
}
