//! What the rules decided, made into rows: ledger lines, offences, milestones, and the
//! messages rendered for the outbox.

use super::Community;
use crate::events::Event;
use crate::rules::Reason;
use crate::rules::engine::{self, Message, Outcome, State};
use crate::store::members::{Effects, LedgerLine, Milestone, OffenceLine};
use crate::store::{NewFire, Problem};
use chrono::{DateTime, TimeDelta, Utc};

/// What caused an outcome: an event, or a sweep of the clock. Names the messages it
/// causes (`KEY/what`) and the ledger lines' event.
pub(super) struct Cause<'a> {
    key: String,
    source: &'static str,
    event: Option<&'a str>,
    at: DateTime<Utc>,
    /// When its messages are due: a late event's messages go out now, not in the past;
    /// a daily job's at the job's instant.
    due: Option<DateTime<Utc>>,
}

impl<'a> Cause<'a> {
    pub(super) fn of(c: &Community, event: &'a Event) -> Cause<'a> {
        Cause {
            key: format!("{}/event/{}", c.id(), event.id),
            source: "event",
            event: Some(&event.id),
            at: event.at.with_timezone(&Utc),
            due: None,
        }
    }

    /// A daily job of the clock on behalf of one member.
    pub(super) fn daily(
        c: &Community,
        job: &str,
        date: chrono::NaiveDate,
        member: &str,
        at: DateTime<Utc>,
    ) -> Cause<'a> {
        Cause {
            key: format!("{}/{job}/{}/{member}", c.id(), date.format("%Y%m%d")),
            source: "daily",
            event: None,
            at,
            due: Some(at),
        }
    }
}

/// Turns what the rules decided into rows: ledger lines, milestones, messages.
pub(super) fn record(
    c: &Community,
    state: &State,
    cause: &Cause<'_>,
    outcome: &Outcome,
    now: DateTime<Utc>,
    effects: &mut Effects,
) {
    let at = cause.at;
    let member = &state.member.id;
    for award in &outcome.awards {
        let (reason, detail) = match &award.reason {
            Reason::Points { on, .. } if on == "referral" => ("referral".to_string(), None),
            Reason::Points { on, .. } => ("points".to_string(), Some(on.clone())),
            Reason::Streak { on, days, .. } => {
                ("streak".to_string(), Some(format!("{days} days of {on}")))
            }
        };
        effects.ledger.push(LedgerLine {
            community: c.id().to_string(),
            member: member.clone(),
            at,
            points: award.points,
            reason,
            detail,
            event: cause.event.map(str::to_string),
        });
    }
    for o in &outcome.offences {
        tracing::info!(
            community = %c.id(),
            member = %member,
            rule = %o.rule,
            offence = o.n,
            penalty = %o.penalty,
            action = o.action.as_str(),
            event = cause.event.unwrap_or_default(),
            "offence"
        );
        effects.offences.push(OffenceLine {
            community: c.id().to_string(),
            member: member.clone(),
            rule: o.rule.clone(),
            n: o.n,
            penalty: o.penalty,
            action: o.action,
            at,
            event: cause.event.unwrap_or_default().to_string(),
        });
    }
    for what in &outcome.milestones {
        effects.milestones.push(Milestone {
            community: c.id().to_string(),
            member: member.clone(),
            what: what.to_string(),
            at,
        });
    }
    for message in &outcome.messages {
        effects.fires.push(compose(
            c,
            state,
            cause,
            message,
            cause.due.unwrap_or(at.max(now)),
        ));
    }
}

/// The outbox entry of a message an event caused: rendered now, sent at once, or when
/// the quiet hours end if it falls inside them.
fn compose(
    c: &Community,
    state: &State,
    cause: &Cause<'_>,
    message: &Message,
    at: DateTime<Utc>,
) -> NewFire {
    let engine = c.engine();
    // Segment conditions that fail here failed the same way for the outcome, and were
    // reported with it.
    let mut ctx = engine::context(&c.program, state, at, &mut Vec::new());
    for (name, value) in &message.values {
        ctx.set(name, value);
    }
    let key = format!("{}/{}", cause.key, message.what);
    let channel = match &message.channel {
        Some(channel) => channel.clone(),
        None => c.program.default_channel().as_str().to_string(),
    };
    let (scheduled_at, outside) = c.program.policy().caused(at);
    let rendered = match &message.text {
        Some(text) => Ok(text.clone()),
        None => engine.render(&message.template, &ctx),
    };
    let (body, problem) = match (rendered, outside) {
        (Ok(body), None) => (body, None),
        (Ok(body), Some(why)) => (body, Some(Problem::NotSent(why))),
        (Err(e), _) => (
            String::new(),
            Some(Problem::Unsendable(format!("could not render: {e}"))),
        ),
    };
    let grace = TimeDelta::days(1);
    // A channel that takes no bot posts gets the message as a to-do on its assist channel.
    let (channel, assist_for, body) = match c.assist_of(&channel) {
        Some(helper) if problem.is_none() => {
            let todo = c.to_do_for(&channel, scheduled_at, grace, &key, &body);
            (helper.to_string(), Some(channel), todo)
        }
        _ => (channel, None, body),
    };
    NewFire {
        key,
        community: c.id().to_string(),
        source: format!("{}/{}", cause.source, message.what),
        channel,
        assist_for,
        template: message.template.clone(),
        scheduled_at,
        grace,
        body,
        problem,
    }
}
