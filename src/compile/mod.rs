//! The compile stage: a validated playbook made into the [`Program`] that everything after
//! validation runs — `plan`, `render`, the member rules and the daemon.
//!
//! Compiling resolves what validation only checked: every scheduled item's channel, the
//! channel of the messages events cause, every condition compiled once (by the same call
//! validation makes) with where it is written, and the planner's items prepared once (day
//! rules, times of day, calendar skips and moves). What compiles runs: a run-time failure of
//! a condition is reported with its place in the playbook, never taken for "false".

pub mod items;

pub use items::Source;

use crate::diag::Diagnostics;
use crate::playbook::model::Playbook;
use crate::playbook::types::Id;
use crate::policy::Policy;
use crate::source::SourceMap;
use crate::template::{Context, Engine};
use items::Item;
use std::sync::OnceLock;

self_cell::self_cell!(
    /// The playbook and its items, which borrow from it.
    struct Compiled {
        owner: Playbook,
        #[covariant]
        dependent: Items,
    }
);

type Items<'a> = Vec<Item<'a>>;

/// A validated playbook, compiled.
pub struct Program {
    compiled: Compiled,
    /// The channel of a message that names none: `default_channel`, or the only channel.
    default_channel: Option<Id>,
    /// Where each condition is written, numbered as [`crate::template::conditions`] lists
    /// them.
    conditions: Vec<Site>,
    /// When the community may send.
    policy: Policy,
    /// The templates, compiled the first time a message is rendered: most communities of a
    /// large deployment need them only for a moment when a slot fires. They validated, so
    /// they compile.
    engine: OnceLock<Engine>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("community", &self.id())
            .finish_non_exhaustive()
    }
}

/// Where a condition is written, for the reports of its run-time failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// `path:line:column`.
    pub at: String,
    pub source: String,
}

/// A condition of the program: a segment's, a badge's or a lottery's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConditionId(usize);

/// A condition that could not be evaluated (a value of the wrong type, out of fuel).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition `{condition}` at {at} failed: {error}")]
pub struct ConditionFailed {
    pub at: String,
    pub condition: String,
    pub error: String,
}

/// Compiles a playbook that validated. Fails only where validation would have: the
/// diagnostics say what did not resolve.
pub fn compile(playbook: Playbook, sources: &SourceMap) -> Result<Program, Diagnostics> {
    let mut diags = Diagnostics::new();
    let default_channel = playbook.channel_for(None).cloned();
    crate::validate::caused_unrouted(&playbook, &mut diags);
    let conditions = crate::template::conditions(&playbook)
        .into_iter()
        .map(|c| {
            let span = c.source.span;
            // The scalar's span includes its quotes; the expression starts after one.
            let quoted = span.end - span.start > c.source.value.len() as u32;
            let file = sources.get(span.file);
            let (line, col) = file.line_col(span.start as usize + usize::from(quoted));
            Site {
                at: format!("{}:{line}:{col}", file.path.display()),
                source: c.source.value.clone(),
            }
        })
        .collect();
    let compiled = Compiled::new(playbook, |p| {
        let (items, problems) = items::items_of(p);
        for d in problems {
            diags.push(d);
        }
        items
    });
    if diags.has_errors() {
        return Err(diags);
    }
    let policy = Policy::of(compiled.borrow_owner());
    Ok(Program {
        policy,
        compiled,
        default_channel,
        conditions,
        engine: OnceLock::new(),
    })
}

/// Loads, validates and compiles the one playbook in `text`, named `path` in reports: for
/// tests, benchmarks and tools that start from text. The errors come back rendered.
pub fn from_text(path: &str, text: &str) -> Result<Program, String> {
    let mut loaded = crate::playbook::Loaded::default();
    crate::playbook::load::load_bytes(
        &mut loaded,
        std::path::Path::new(path),
        text.as_bytes().to_vec(),
    );
    crate::validate::check(&loaded.playbooks, &mut loaded.diagnostics);
    if loaded.diagnostics.has_errors() {
        let diags = std::mem::take(&mut loaded.diagnostics).into_vec();
        return Err(crate::diag::render::human(&loaded.sources, &diags));
    }
    match loaded.playbooks.len() {
        1 => {
            let p = loaded.playbooks.pop().expect("one playbook");
            compile(p, &loaded.sources)
                .map_err(|d| crate::diag::render::human(&loaded.sources, &d.into_vec()))
        }
        n => Err(format!("{path}: {n} playbooks, not one")),
    }
}

impl Program {
    pub fn playbook(&self) -> &Playbook {
        self.compiled.borrow_owner()
    }

    /// The community's id.
    pub fn id(&self) -> &str {
        self.playbook().community.id.value.as_str()
    }

    /// When the community may send: runs, quiet hours, daily limit.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The planner's items, prepared when the playbook was compiled.
    pub(crate) fn items(&self) -> &[Item<'_>] {
        self.compiled.borrow_dependent()
    }

    /// The compiled templates and conditions, kept once compiled: members' events need
    /// them again and again.
    pub fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| self.templates())
    }

    /// The templates and conditions compiled afresh, for a one-off use (a slot firing)
    /// that should not keep them in memory.
    pub fn templates(&self) -> Engine {
        // Validation compiled every template and condition with the same environment.
        Engine::new(self.playbook()).expect("a validated playbook's templates compile")
    }

    /// The channel of a message that names none. Compiling made sure every such message
    /// has one.
    pub fn default_channel(&self) -> &Id {
        self.default_channel
            .as_ref()
            .expect("compiling checked that a message without a channel has a default")
    }

    /// The condition of segment `index` (in the playbook's order).
    pub fn segment_condition(&self, index: usize) -> ConditionId {
        ConditionId(index)
    }

    /// The condition of badge `index`.
    pub fn badge_condition(&self, index: usize) -> ConditionId {
        ConditionId(self.playbook().segments.len() + index)
    }

    /// The `eligible` condition of lottery `index`, if it has one.
    pub fn lottery_condition(&self, index: usize) -> Option<ConditionId> {
        let p = self.playbook();
        let lotteries = &p.rewards.lotteries;
        lotteries.get(index)?.eligible.as_ref()?;
        let before = lotteries[..index]
            .iter()
            .filter(|l| l.eligible.is_some())
            .count();
        Some(ConditionId(
            p.segments.len() + p.rewards.badges.len() + before,
        ))
    }

    /// The `eligible` condition of the lottery with id `id`, if it has one.
    pub fn lottery_condition_of(&self, id: &str) -> Option<ConditionId> {
        let index = self
            .playbook()
            .rewards
            .lotteries
            .iter()
            .position(|l| l.id.value.as_str() == id)?;
        self.lottery_condition(index)
    }

    /// Whether condition `c` holds with the values of `ctx`.
    pub fn holds(&self, c: ConditionId, ctx: &Context) -> Result<bool, ConditionFailed> {
        self.engine().holds(c.0, ctx).map_err(|e| {
            let site = self.conditions.get(c.0);
            ConditionFailed {
                at: site.map(|s| s.at.clone()).unwrap_or_default(),
                condition: site.map(|s| s.source.clone()).unwrap_or_default(),
                error: e.message,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Context;

    const BOOK: &str = r#"version: 1
community: { id: t, name: 茶会, kind: service, timezone: Asia/Shanghai }
channels:
  group: { type: console }
  admins: { type: console }
default_channel: group
segments:
  - { id: active, when: "stats.messages_7d >= 1" }
  - { id: broken, when: "stats.messages_7d // 0 > 1" }
rewards:
  badges:
    - { id: early, name: Early, when: "'早' in member.name" }
  lotteries:
    - { id: friday, cron: "0 20 * * 5", winners: 1, prize: tea, template: draw }
    - { id: members, cron: "0 21 * * 5", winners: 1, prize: tea, template: draw, eligible: "stats.streak >= 3" }
templates:
  draw: "{{ winners | length }}"
  hi: "欢迎 {{ member.name }}"
"#;

    fn ctx(program: &Program, messages: i64) -> Context {
        let mut ctx = program.engine().context(DateTime::UNIX_EPOCH);
        ctx.set(
            "stats",
            serde_json::json!({"messages_7d": messages, "streak": 4}),
        );
        ctx.set("member", serde_json::json!({"name": "早起的人"}));
        ctx
    }

    use chrono::DateTime;

    #[test]
    fn conditions_are_numbered_segments_then_badges_then_eligible_lotteries() {
        let program = from_text("test.yaml", BOOK).unwrap();
        let ctx = ctx(&program, 2);
        assert_eq!(program.holds(program.segment_condition(0), &ctx), Ok(true));
        assert_eq!(program.holds(program.badge_condition(0), &ctx), Ok(true));
        assert_eq!(program.lottery_condition(0), None);
        let eligible = program.lottery_condition_of("members").unwrap();
        assert_eq!(program.holds(eligible, &ctx), Ok(true));
        assert_eq!(program.lottery_condition_of("friday"), None);
        assert_eq!(program.lottery_condition_of("nobody"), None);
    }

    #[test]
    fn a_condition_that_fails_at_run_time_says_where_it_is_written() {
        let program = from_text("test.yaml", BOOK).unwrap();
        let failed = program
            .holds(program.segment_condition(1), &ctx(&program, 2))
            .unwrap_err();
        // Where the expression starts, inside its quotes.
        assert_eq!(failed.at, "test.yaml:9:26");
        assert_eq!(failed.condition, "stats.messages_7d // 0 > 1");
        assert!(failed.error.contains("2 // 0"), "{}", failed.error);
    }

    #[test]
    fn a_message_events_cause_needs_a_channel_to_compile() {
        let book = BOOK
            .replace("default_channel: group\n", "")
            .replace("templates:\n", "entry:\n  welcome: hi\ntemplates:\n");
        let err = from_text("test.yaml", &book).unwrap_err();
        assert!(err.contains("no-channel"), "{err}");
        assert!(
            err.contains("no channel for `hi`, a message members' events cause"),
            "{err}"
        );
    }

    #[test]
    fn the_only_channel_is_the_default() {
        let book = BOOK
            .replace("default_channel: group\n", "")
            .replace("  admins: { type: console }\n", "")
            .replace("templates:\n", "entry:\n  welcome: hi\ntemplates:\n");
        let program = from_text("test.yaml", &book).unwrap();
        assert_eq!(program.default_channel().as_str(), "group");
    }
}
