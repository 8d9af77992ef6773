//! Message templates: the one module that owns minijinja.
//!
//! Templates are Jinja (minijinja) with strict undefined variables and a fuel limit, so a
//! mistake is an error and a runaway loop stops instead of hanging. Each playbook gets one
//! [`Engine`] holding its compiled templates; rendering takes a context built from the
//! [`Place`] the message is sent from.

pub mod body;
mod check;
mod filters;
mod place;
pub mod sample;

pub use body::{Body, BodyError};
pub use check::check;
pub use filters::Now;
pub use place::{Place, STATS, fields_of, places_of};

use crate::playbook::model::Playbook;
use minijinja::{Environment, UndefinedBehavior, Value};
use std::collections::BTreeMap;

/// How much work one render may do before it is stopped (a loop of a few thousand items).
pub const FUEL: u64 = 100_000;

/// Functions the engine provides that templates may call without declaring them.
pub const GLOBALS: &[&str] = &["range", "dict", "namespace", "debug"];

/// A template failed to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub template: String,
    pub message: String,
    /// Byte range inside the template source, where minijinja knows it.
    pub range: Option<std::ops::Range<usize>>,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template `{}`: {}", self.template, self.message)
    }
}

impl std::error::Error for RenderError {}

impl RenderError {
    fn from_minijinja(template: &str, e: &minijinja::Error) -> Self {
        let mut message = e.kind().to_string();
        if let Some(d) = e.detail() {
            message = format!("{message}: {d}");
        }
        RenderError {
            template: template.to_string(),
            message,
            range: e.range(),
        }
    }
}

/// A minijinja environment configured the drumbeat way for one locale.
pub fn environment(locale: &str) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // An absent optional value (a member without a birthday) prints as nothing, not "none".
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    filters::register(&mut env, locale);
    env
}

/// The compiled templates of one playbook and the values every message shares.
pub struct Engine {
    env: Environment<'static>,
    /// The playbook's conditions (`when`, `eligible`), each compiled once as a small
    /// template under a name of its own: conditions are checked on every event.
    conditions: std::collections::HashMap<String, String>,
    tz: chrono_tz::Tz,
    community: Value,
    rules: Value,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("tz", &self.tz)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Compiles every template of a validated playbook.
    pub fn new(p: &Playbook) -> Result<Engine, RenderError> {
        let mut env = environment(&p.community.locale);
        for (id, t) in &p.templates {
            env.add_template_owned(id.0.clone(), t.source.clone())
                .map_err(|e| RenderError::from_minijinja(id.as_str(), &e))?;
        }
        let mut conditions = std::collections::HashMap::new();
        let sources = p
            .rewards
            .badges
            .iter()
            .map(|b| &b.when)
            .chain(p.segments.iter().map(|s| &s.when))
            .chain(
                p.rewards
                    .lotteries
                    .iter()
                    .filter_map(|l| l.eligible.as_ref()),
            );
        for (i, c) in sources.enumerate() {
            // Template names cannot collide with a playbook's: ids never hold a space.
            let name = format!("condition {i}");
            let body = format!("{{% if {} %}}1{{% endif %}}", c.source.value);
            if env.add_template_owned(name.clone(), body).is_ok() {
                conditions.insert(c.source.value.clone(), name);
            }
        }
        Ok(Engine {
            env,
            conditions,
            tz: p.community.timezone,
            community: community_value(p),
            rules: Value::from(minijinja::value::Serde(
                p.rules
                    .iter()
                    .map(|r| {
                        BTreeMap::from([
                            ("id", r.id.value.as_str()),
                            ("description", r.description.as_str()),
                        ])
                    })
                    .collect::<Vec<_>>(),
            )),
        })
    }

    pub fn has_template(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// A context with what every message has (`community`, `rules`, `now`), ready for the
    /// place-specific values to be added.
    pub fn context(&self, now: chrono::DateTime<chrono::Utc>) -> Context {
        let mut values = BTreeMap::new();
        values.insert("community", self.community.clone());
        values.insert("rules", self.rules.clone());
        values.insert("now", Value::from_object(Now::new(now, self.tz)));
        Context { values }
    }

    /// Renders template `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| RenderError::from_minijinja(name, &e))?;
        t.render(Value::from_pairs(
            ctx.values.iter().map(|(k, v)| (*k, v.clone())),
        ))
        .map_err(|e| RenderError::from_minijinja(name, &e))
    }
}

impl Engine {
    /// Evaluates a condition (`when`, `eligible`: a minijinja expression) with the values of
    /// `ctx`; answers whether it holds.
    pub fn holds(&self, condition: &str, ctx: &Context) -> Result<bool, RenderError> {
        if let Some(name) = self.conditions.get(condition) {
            return self.render(name, ctx).map(|out| out == "1");
        }
        let expr = self
            .env
            .compile_expression(condition)
            .map_err(|e| RenderError::from_minijinja("condition", &e))?;
        let value = expr
            .eval(Value::from_pairs(
                ctx.values.iter().map(|(k, v)| (*k, v.clone())),
            ))
            .map_err(|e| RenderError::from_minijinja("condition", &e))?;
        Ok(value.is_true())
    }
}

/// The values one message is rendered with.
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: BTreeMap<&'static str, Value>,
}

impl Context {
    /// Sets a variable; `value` is anything serde can serialize.
    pub fn set<T: serde::Serialize>(&mut self, name: &'static str, value: T) -> &mut Self {
        self.values
            .insert(name, Value::from(minijinja::value::Serde(value)));
        self
    }

    pub fn set_value(&mut self, name: &'static str, value: Value) -> &mut Self {
        self.values.insert(name, value);
        self
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// The `community` object every template sees (the webhook body template too).
pub fn community_value(p: &Playbook) -> Value {
    let c = &p.community;
    let mut m: BTreeMap<&str, Value> = BTreeMap::new();
    m.insert("id", Value::from(c.id.value.as_str()));
    m.insert("name", Value::from(c.name.as_str()));
    m.insert("kind", Value::from(c.kind.as_str()));
    m.insert(
        "goal",
        c.goal
            .as_deref()
            .map(Value::from)
            .unwrap_or(Value::from(())),
    );
    m.insert(
        "audience",
        Value::from(minijinja::value::Serde(&c.audience)),
    );
    m.insert("offer", Value::from(minijinja::value::Serde(&c.offer)));
    m.insert("values", Value::from(minijinja::value::Serde(&c.values)));
    m.insert("timezone", Value::from(c.timezone.name()));
    m.insert("locale", Value::from(c.locale.as_str()));
    m.insert(
        "capacity",
        c.capacity.map(Value::from).unwrap_or(Value::from(())),
    );
    Value::from_pairs(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_variables_are_errors() {
        let env = environment("zh-CN");
        let err = env
            .render_str("你好 {{ member.name }}", minijinja::context! {})
            .unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError);
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel() {
        let env = environment("zh-CN");
        let err = env
            .render_str(
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                (),
            )
            .unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::OutOfFuel);
    }

    #[test]
    fn none_prints_as_nothing() {
        let env = environment("zh-CN");
        let out = env
            .render_str(
                "[{{ m.birthday }}]",
                minijinja::context! { m => minijinja::context! { birthday => () } },
            )
            .unwrap();
        assert_eq!(out, "[]");
    }

    #[test]
    fn output_is_not_html_escaped() {
        let env = environment("zh-CN");
        let out = env
            .render_str("{{ x }}", minijinja::context! { x => "<b>&" })
            .unwrap();
        assert_eq!(out, "<b>&");
    }
}
