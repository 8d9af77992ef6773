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
    compiled: Compiled,
    tz: chrono_tz::Tz,
    community: Value,
    rules: Value,
}

self_cell::self_cell!(
    /// A playbook's templates, and its conditions compiled against them: the conditions
    /// (expressions) borrow the environment they were compiled in.
    struct Compiled {
        owner: Environment<'static>,
        #[covariant]
        dependent: Expressions,
    }
);

type Expressions<'env> = Vec<minijinja::Expression<'env, 'static>>;

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("tz", &self.tz)
            .finish_non_exhaustive()
    }
}

/// A playbook's conditions (`when` of segments and badges, `eligible` of lotteries), in
/// the order [`Engine::holds`] numbers them: segments, then badges, then lotteries.
pub fn conditions(p: &Playbook) -> Vec<&crate::playbook::model::Condition> {
    p.segments
        .iter()
        .map(|s| &s.when)
        .chain(p.rewards.badges.iter().map(|b| &b.when))
        .chain(
            p.rewards
                .lotteries
                .iter()
                .filter_map(|l| l.eligible.as_ref()),
        )
        .collect()
}

/// Compiles a condition: the one way conditions are compiled, when they are checked and
/// when they run.
pub fn condition<'env>(
    env: &'env Environment<'static>,
    source: &str,
) -> Result<minijinja::Expression<'env, 'static>, minijinja::Error> {
    env.compile_expression_owned(source.to_string())
}

impl Engine {
    /// Compiles every template and condition of a validated playbook.
    pub fn new(p: &Playbook) -> Result<Engine, RenderError> {
        let mut env = environment(&p.community.locale);
        for (id, t) in &p.templates {
            env.add_template_owned(id.0.clone(), t.source.clone())
                .map_err(|e| RenderError::from_minijinja(id.as_str(), &e))?;
        }
        let sources: Vec<String> = conditions(p)
            .into_iter()
            .map(|c| c.source.value.clone())
            .collect();
        let compiled = Compiled::try_new(env, |env| {
            sources
                .iter()
                .map(|src| {
                    condition(env, src).map_err(|e| RenderError::from_minijinja("condition", &e))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(Engine {
            compiled,
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

    fn env(&self) -> &Environment<'static> {
        self.compiled.borrow_owner()
    }

    pub fn has_template(&self, name: &str) -> bool {
        self.env().get_template(name).is_ok()
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
            .env()
            .get_template(name)
            .map_err(|e| RenderError::from_minijinja(name, &e))?;
        t.render(ctx.value())
            .map_err(|e| RenderError::from_minijinja(name, &e))
    }

    /// Evaluates condition `index` (numbered as [`conditions`] lists them) with the values
    /// of `ctx`; answers whether it holds. An index the playbook does not have is an error.
    pub fn holds(&self, index: usize, ctx: &Context) -> Result<bool, RenderError> {
        let value = self
            .compiled
            .borrow_dependent()
            .get(index)
            .ok_or_else(|| RenderError {
                template: "condition".into(),
                message: format!("no condition {index}"),
                range: None,
            })?
            .eval(ctx.value())
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
    fn value(&self) -> Value {
        Value::from_pairs(self.values.iter().map(|(k, v)| (*k, v.clone())))
    }

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
